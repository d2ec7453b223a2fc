// The booking service's REST API (/api/v1) with the caller's token.
// Errors arrive as problem+json and are thrown as ApiError with the code.

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @param {import('./auth.js').TokenSource} tokens
 */
export function bookingApi(tokens) {
  /**
   * @param {string} method
   * @param {string} path below /api/v1
   * @param {{query?: Record<string, string | number | undefined | null>, body?: unknown, headers?: Record<string, string>, accept?: string}} [options]
   */
  async function call(method, path, options = {}) {
    const url = new URL(`/api/v1${path}`, location.origin);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
    }
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${await tokens.get()}`, ...(options.headers ?? {}) };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    if (!response.ok) {
      let code = `http_${response.status}`;
      let detail = response.statusText;
      const text = await response.text();
      try {
        const problem = JSON.parse(text);
        code = problem.code ?? code;
        detail = problem.detail ?? problem.title ?? detail;
      } catch {
        // Not a problem document (e.g. the framework's own 422): keep its text.
        if (text) detail = text.slice(0, 300);
      }
      throw new ApiError(response.status, code, detail);
    }
    if (response.status === 204) return null;
    const type = response.headers.get('content-type') ?? '';
    return type.includes('json') ? response.json() : response.text();
  }

  return {
    /** @param {string} path @param {Record<string, string | number | undefined | null>} [query] */
    get: (path, query) => call('GET', path, { query }),
    /** @param {string} path @param {unknown} [body] @param {Record<string, string>} [headers] */
    post: (path, body, headers) => call('POST', path, { body, headers }),
    /**
     * Every item of a paginated list.
     * @param {string} path
     * @param {Record<string, string | number | undefined | null>} [query]
     * @returns {Promise<any[]>}
     */
    async all(path, query = {}) {
      /** @type {any[]} */
      const items = [];
      /** @type {number | null} */
      let offset = 0;
      while (offset !== null) {
        const page = await call('GET', path, { query: { ...query, limit: 200, offset } });
        items.push(...page.items);
        offset = page.next_offset ?? null;
      }
      return items;
    },
  };
}
