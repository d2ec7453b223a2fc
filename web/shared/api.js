// The booking service's REST API (/api/v1) with the caller's token.
// Errors arrive as problem+json and are thrown as ApiError with the code.
//
// Paths, queries, bodies and replies are typed from the booking OpenAPI
// document (web/types/booking-api.d.ts, generated from
// proto/openapi/booking.json): a path is written as the app calls it, below
// /api/v1, with its `{parameters}` filled in.

import { retryAfter } from './auth.js';

/** @typedef {import('../types/booking-api').paths} BookingPaths */
/** @typedef {'get' | 'post'} Method */

/**
 * A path template as the app writes it: its `{parameters}` as any text.
 * @template {string} Template
 * @typedef {Template extends `${infer Head}{${string}}${infer Tail}` ? `${Head}${string}${Filled<Tail>}` : Template} Filled
 */

/**
 * The paths below /api/v1 that have an operation for `M`.
 * @template {Method} M
 * @typedef {{[T in keyof BookingPaths]: T extends `/api/v1${infer Rest}` ? (undefined extends BookingPaths[T][M] ? never : Filled<Rest>) : never}[keyof BookingPaths]} PathOf
 */

/**
 * The operation `M` of the path `P` as the app writes it.
 * @template {Method} M
 * @template {string} P
 * @typedef {{[T in keyof BookingPaths]: T extends `/api/v1${infer Rest}` ? (P extends Filled<Rest> ? NonNullable<BookingPaths[T][M]> : never) : never}[keyof BookingPaths]} Operation
 */

/**
 * What a response carries: its JSON (or text) body; null for none (204).
 * @template Response
 * @typedef {Response extends {content: {'application/json': infer Body}} ? Body : Response extends {content: {[type: string]: infer Text}} ? Text : null} Content
 */

/**
 * The successful reply of an operation.
 * @template Op
 * @typedef {Op extends {responses: infer Responses} ? Content<Responses[Extract<keyof Responses, 200 | 201 | 204>]> : never} Reply
 */

/**
 * The query of an operation; null (like undefined and '') leaves a
 * parameter out.
 * @template Op
 * @typedef {Op extends {parameters: {query?: infer Query}} ? {[Name in keyof NonNullable<Query>]: NonNullable<Query>[Name] | null} : never} QueryOf
 */

/**
 * The JSON body of an operation (undefined when it takes none).
 * @template Op
 * @typedef {Op extends {requestBody: {content: {'application/json': infer Body}}} ? Body : undefined} BodyOf
 */

/**
 * The paths of paginated lists (`{items, next_offset}`).
 * @typedef {{[T in keyof BookingPaths]: T extends `/api/v1${infer Rest}` ? (Reply<NonNullable<BookingPaths[T]['get']>> extends {items: unknown[]} ? Rest : never) : never}[keyof BookingPaths]} ListPath
 */
/**
 * The item a paginated list holds.
 * @template {ListPath} P
 * @typedef {Reply<Operation<'get', P>> extends {items: (infer Item)[]} ? Item : never} ListItem
 */

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The error a failed response stands for: its problem+json `code` and
 * `detail`, or `http_<status>` and the start of its text.
 * @param {Response} response
 */
export async function apiError(response) {
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
  return new ApiError(response.status, code, detail);
}

/**
 * @param {import('./auth.js').TokenSource} tokens
 */
export function bookingApi(tokens) {
  /**
   * @param {string} method
   * @param {string} path below /api/v1
   * @param {{query?: Record<string, string | number | boolean | undefined | null>, body?: unknown, headers?: Record<string, string>, accept?: string}} [options]
   * @returns {Promise<any>} the reply's JSON or text, null for none; typed by the callers below
   */
  async function call(method, path, options = {}) {
    const url = new URL(`/api/v1${path}`, location.origin);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
    }
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${await tokens.get()}`, ...(options.headers ?? {}) };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let response = await fetch(url, { method, headers, body });
    // Over the request limits (429, refused before anything was done): wait
    // as told and try again, twice at most.
    for (let retry = 0; response.status === 429 && retry < 2; retry += 1) {
      await retryAfter(response);
      response = await fetch(url, { method, headers, body });
    }
    if (!response.ok) throw await apiError(response);
    if (response.status === 204) return null;
    const type = response.headers.get('content-type') ?? '';
    return type.includes('json') ? response.json() : response.text();
  }

  return {
    /**
     * @template {PathOf<'get'>} P
     * @param {P} path
     * @param {QueryOf<Operation<'get', P>>} [query]
     * @returns {Promise<Reply<Operation<'get', P>>>}
     */
    get: (path, query) => call('GET', path, { query }),
    /**
     * @template {PathOf<'post'>} P
     * @param {P} path
     * @param {BodyOf<Operation<'post', P>>} [body]
     * @param {Record<string, string>} [headers]
     * @returns {Promise<Reply<Operation<'post', P>>>}
     */
    post: (path, body, headers) => call('POST', path, { body, headers }),
    /**
     * Every item of a paginated list.
     * @template {ListPath} P
     * @param {P} path
     * @param {Omit<QueryOf<Operation<'get', P>>, 'limit' | 'offset'>} [query]
     * @returns {Promise<ListItem<P>[]>}
     */
    async all(path, query) {
      /** @type {ListItem<P>[]} */
      const items = [];
      /** @type {number | null} */
      let offset = 0;
      while (offset !== null) {
        /** @type {{items: ListItem<P>[], next_offset?: number | null}} */
        const page = await call('GET', path, { query: { ...query, limit: 200, offset } });
        items.push(...page.items);
        offset = page.next_offset ?? null;
      }
      return items;
    },
  };
}
