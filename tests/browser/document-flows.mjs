// Documents in the call, as people use them.
//
// `documents`: the citizen shows a paper on the kiosk's document camera; the
// expert asks for a still and reads it at its full resolution (its pixel
// size is the camera's, not the video layer's), zooms and rotates it; the
// advisor takes another before handing off. The expert hands the citizen a
// PDF: the kiosk shows its pages large, prints it (only the OS print step
// is stubbed: headless Chromium has none) and sends it to the address the
// citizen typed, once. Files too large or of the wrong type are refused by
// the expert's page, and a page that skips its own checks is refused by
// the SFU. The interpreter sees documents only while the expert allows it.
// Afterwards the audit log says who passed what type and size to whom, and
// nothing of the documents or the address is in the data directory or the
// server's debug log.

import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { OtlpSink, assert, capture, eventually, openStaff, participantsByRole, sleep } from './lib.mjs';
import { acceptInterpretation, endByExpert, idOf, walkIn, withSystem } from './flows.mjs';

const MARKER = 'SILTA-PAATOS-7731';
const ADDRESS = 'asiakas.paperi@example.org';

/** A small PDF of one page with a line of text (offsets need not be exact: readers recover them). */
function pdf(text) {
  const stream = `BT /F1 28 Tf 72 700 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let body = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((object, index) => {
    offsets.push(body.length);
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('')}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

/** A 2×2 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');

/**
 * An SMTP server on 127.0.0.1 that takes every message (the booking
 * service's lettre speaks SMTP to it as to a relay) and keeps what it got.
 */
class SmtpSink {
  static async start() {
    const sink = new SmtpSink();
    /** @type {string[]} the messages' DATA, dot-unstuffed */
    sink.messages = [];
    sink.server = net.createServer((socket) => {
      socket.setEncoding('latin1');
      let buffer = '';
      let data = null;
      socket.write('220 sink ESMTP\r\n');
      socket.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (data !== null) {
            if (line === '.') {
              sink.messages.push(data.join('\n'));
              data = null;
              socket.write('250 queued\r\n');
            } else data.push(line.startsWith('..') ? line.slice(1) : line);
            continue;
          }
          const verb = line.split(' ')[0].toUpperCase();
          if (verb === 'EHLO' || verb === 'HELO') socket.write('250-sink\r\n250 8BITMIME\r\n');
          else if (verb === 'DATA') {
            data = [];
            socket.write('354 go on\r\n');
          } else if (verb === 'QUIT') socket.end('221 bye\r\n');
          else socket.write('250 ok\r\n');
        }
      });
      socket.on('error', () => {});
    });
    await new Promise((resolve) => sink.server.listen(0, '127.0.0.1', resolve));
    sink.port = sink.server.address().port;
    return sink;
  }

  close() {
    return new Promise((resolve) => this.server.close(resolve));
  }
}

/** The attachment of a message whose part has this content type, decoded. */
function attachmentOf(message, contentType) {
  const part = message.split(/\n--/).find((section) => section.includes(`Content-Type: ${contentType}`));
  if (!part) return null;
  const body = part.slice(part.indexOf('\n\n') + 2);
  return Buffer.from(body.replace(/\s+/g, ''), 'base64');
}

/** The document a page shows now: purpose, type, image size, pages. */
function shown(page) {
  return page.evaluate(() => {
    const viewer = document.querySelector('.document-viewer');
    if (!viewer) return null;
    const image = viewer.querySelector('img');
    return {
      purpose: viewer.getAttribute('data-document'),
      type: viewer.getAttribute('data-type'),
      width: image?.naturalWidth ?? 0,
      height: image?.naturalHeight ?? 0,
      pages: viewer.querySelectorAll('canvas.document-page').length,
      src: image?.getAttribute('src') ?? '',
    };
  });
}

/** What the page's documents panel says. */
function status(page) {
  return page.evaluate(() => document.querySelector('.documents-status')?.textContent ?? '');
}

/** Rows of the booking service's audit log of an action, from its SQLite file. */
function audit(server, action) {
  const result = spawnSync(
    'sqlite3',
    ['-readonly', '-json', path.join(server.dataDir, 'booking.db'), `SELECT actor_role, actor_org, object, detail FROM audit_log WHERE action = '${action}' ORDER BY at`],
    { encoding: 'utf8' },
  );
  assert(result.status === 0, `sqlite3 audit_log: ${result.stderr || result.error}`);
  return result.stdout.trim() ? JSON.parse(result.stdout) : [];
}

export const documentFlows = [
  {
    name: 'documents',
    timeoutMs: 300_000,
    async run() {
      const smtp = await SmtpSink.start();
      const otlp = await OtlpSink.start();
      try {
        await withSystem(
          async (server, browser) => {
            const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'documents', language: 'fi' });
            const kioskId = await idOf(expert, 'kiosk');

            for (const page of [kiosk, expert, advisor]) {
              await eventually(() => page.evaluate(() => window.siltaApp.session?.media.channel.readyState === 'open'), 'the call channels open');
            }
            // No document camera on yet: the expert is told so.
            await expert.click('.documents-still');
            await eventually(async () => /kamera|camera/i.test(await status(expert)), 'the expert to hear the camera is off');

            // The citizen shows a paper; the expert asks for a still.
            await kiosk.click('#second-source');
            await expert.locator('.tile[data-source="second"][data-active="true"]').waitFor({ timeout: 20_000 });
            const camera = await kiosk.evaluate(() => window.siltaApp.second.getVideoTracks()[0].getSettings());
            // As on a narrow link: the document camera's video is sent at half its size.
            await kiosk.evaluate(async () => {
              const sender = window.siltaApp.session.media.secondSender;
              const parameters = sender.getParameters();
              parameters.encodings[0].scaleResolutionDownBy = 2;
              await sender.setParameters(parameters);
            });
            await eventually(
              () => expert.evaluate((width) => (document.querySelector('.tile[data-source="second"] video')?.videoWidth ?? 0) === width / 2, camera.width),
              'the expert to receive the document camera at half size',
            );
            assert(camera.width > 0, `the document camera's resolution: ${JSON.stringify(camera)}`);
            await expert.click('.documents-still');
            await eventually(async () => (await shown(expert))?.width > 0, 'the still at the expert', 20_000);
            const still = await shown(expert);
            // The citizen is told a picture of their paper went to the expert.
            await eventually(async () => (await status(kiosk)).length > 0 && (await kiosk.locator('.documents-status').isVisible()), 'the kiosk to say the still was sent');
            await capture(kiosk, 'documents-kiosk-still-sent');
            const video = await expert.evaluate(() => {
              const element = document.querySelector('.tile[data-source="second"] video');
              return { width: element?.videoWidth ?? 0, height: element?.videoHeight ?? 0 };
            });
            assert(still.purpose === 'still' && still.type === 'image/jpeg', `a JPEG still: ${JSON.stringify(still)}`);
            assert(still.width === camera.width && still.height === camera.height, `the still has the camera's full resolution ${camera.width}×${camera.height}: ${JSON.stringify(still)} (the video layer: ${JSON.stringify(video)})`);
            assert(video.width > 0 && still.width === video.width * 2, `the still is sharper than the video: ${JSON.stringify({ still, video })}`);
            // Zoom and rotate.
            await expert.click('.document-action[data-action="zoom-in"]');
            await expert.click('.document-action[data-action="zoom-in"]');
            await expert.click('.document-action[data-action="rotate"]');
            const view = await expert.evaluate(() => {
              const content = document.querySelector('.document-content');
              const image = content?.querySelector('img')?.getBoundingClientRect();
              return { zoom: content?.getAttribute('data-zoom'), rotation: content?.getAttribute('data-rotation'), width: image?.width ?? 0, box: content?.getBoundingClientRect().width ?? 0 };
            });
            assert(view.zoom === '2' && view.rotation === '90' && view.width > view.box * 1.2, `zoomed twice and turned: ${JSON.stringify(view)}`);
            await capture(expert, 'documents-expert-still');

            // The advisor takes one too, then hands off.
            const before = still.src;
            await advisor.click('.documents-still');
            await eventually(async () => (await shown(expert))?.src !== before && (await shown(expert))?.width === camera.width, 'the advisor\'s still at the expert', 20_000);
            await advisor.click('#handoff');
            await eventually(async () => !(await participantsByRole(kiosk)).advisor, 'the advisor to leave');

            // Refused by the expert's page: the wrong type, too large.
            await expert.setInputFiles('#documents-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a document') });
            await eventually(async () => /PDF/.test(await status(expert)), 'a text file refused by type');
            await expert.setInputFiles('#documents-file', { name: 'big.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([pdf(MARKER), Buffer.alloc(10 * 1024 * 1024)]) });
            await eventually(async () => /10/.test(await status(expert)), 'an 11 MB file refused by size');
            // Refused by the SFU when a page skips its checks: a "PDF" that is not one, and one too large.
            const refused = await expert.evaluate(async () => {
              const media = window.siltaApp.session.media;
              const reasons = [];
              const heard = new Promise((resolve) => {
                media.addEventListener('callmessage', (event) => {
                  const { from, payload } = event.detail;
                  if (from === '' && payload[0] === 3) reasons.push(payload[5]);
                  if (reasons.length === 2) resolve(undefined);
                });
              });
              const frame = (bytes) => Uint8Array.from(bytes);
              const u32 = (value) => [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
              media.sendCall(frame([1, ...u32(41), 1, ...u32(100), 2]));
              media.sendCall(frame([2, ...u32(41), ...u32(0), 0x4d, 0x5a, 0x90, 0, 1, 2, 3]));
              media.sendCall(frame([1, ...u32(42), 1, ...u32(11 * 1024 * 1024), 2]));
              await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 5000))]);
              return reasons;
            });
            assert(JSON.stringify(refused) === '[2,1]', `the SFU refuses the wrong type and the size: ${JSON.stringify(refused)}`);
            assert((await shown(kiosk)) === null, 'nothing refused reached the kiosk');
            // The kiosk's own checks, as if a relay had let them through: a
            // start too large and a "PNG" that is a PDF are refused to the sender.
            const kioskRefusals = await kiosk.evaluate(async (from) => {
              const media = window.siltaApp.session.media;
              const answers = [];
              const send = media.sendCall.bind(media);
              media.sendCall = (payload, to) => {
                if (payload[0] === 0x7b) {
                  const message = JSON.parse(new TextDecoder().decode(payload));
                  if (message.kind === 'doc-refused') answers.push(message.reason);
                }
                return send(payload, to);
              };
              const deliver = (bytes) => media.dispatchEvent(new CustomEvent('callmessage', { detail: { from, payload: Uint8Array.from(bytes) } }));
              const u32 = (value) => [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
              deliver([1, ...u32(77), 1, ...u32(11 * 1024 * 1024), 2]);
              deliver([1, ...u32(78), 2, ...u32(6), 2]);
              deliver([2, ...u32(78), ...u32(0), 0x25, 0x50, 0x44, 0x46, 0x2d, 0x31]);
              await new Promise((resolve) => setTimeout(resolve, 200));
              media.sendCall = send;
              return answers;
            }, await idOf(kiosk, 'expert'));
            assert(JSON.stringify(kioskRefusals) === '["too_large","wrong_type"]', `the kiosk refuses what it must not show: ${JSON.stringify(kioskRefusals)}`);
            assert((await shown(kiosk)) === null, 'the kiosk shows nothing it refused');

            // A PDF to the citizen: shown large, printed, e-mailed.
            await expert.setInputFiles('#documents-file', { name: 'paatos.pdf', mimeType: 'application/pdf', buffer: pdf(MARKER) });
            await eventually(async () => (await shown(kiosk))?.pages === 1, 'the PDF at the kiosk', 20_000);
            await eventually(async () => (await expert.locator('.documents-status').textContent())?.length > 0, 'the expert told it arrived');
            const painted = await kiosk.evaluate(() => {
              const canvas = document.querySelector('canvas.document-page');
              const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height / 4).data;
              let dark = 0;
              for (let i = 0; i < data.length; i += 4) if (data[i] < 128 && data[i + 3] > 0) dark += 1;
              const box = canvas.getBoundingClientRect();
              return { dark, width: box.width, screen: innerWidth, overlay: getComputedStyle(document.querySelector('.kiosk-documents')).position };
            });
            assert(painted.dark > 100, `the page's text is drawn: ${JSON.stringify(painted)}`);
            assert(painted.overlay === 'fixed' && painted.width > painted.screen * 0.8, `shown large: ${JSON.stringify(painted)}`);
            await capture(kiosk, 'documents-kiosk-handout');
            await kiosk.evaluate(() => {
              window.printed = [];
              window.print = () => window.printed.push({ printing: document.body.dataset.printing, pages: document.querySelectorAll('.document-viewer.printing canvas.document-page').length });
            });
            await kiosk.click('.document-action[data-action="print"]');
            await eventually(() => kiosk.evaluate(() => window.printed.length === 1), 'the print path taken');
            const printed = await kiosk.evaluate(() => window.printed[0]);
            assert(printed.printing === 'document' && printed.pages === 1, `the document alone is printed: ${JSON.stringify(printed)}`);
            // On paper: the page alone.
            await kiosk.emulateMedia({ media: 'print' });
            const paper = await kiosk.evaluate(() => {
              document.body.dataset.printing = 'document';
              document.querySelector('.document-viewer').classList.add('printing');
              const visible = (selector) => [...document.querySelectorAll(selector)].some((element) => getComputedStyle(element).visibility === 'visible');
              const result = { page: visible('canvas.document-page'), stage: visible('#stage video'), tools: visible('.document-tools button'), form: visible('.documents-email-form input') };
              delete document.body.dataset.printing;
              document.querySelector('.document-viewer').classList.remove('printing');
              return result;
            });
            await kiosk.emulateMedia({ media: 'screen' });
            assert(paper.page && !paper.stage && !paper.tools && !paper.form, `only the document on paper: ${JSON.stringify(paper)}`);
            // E-mail: a wrong address is refused on the spot, a right one is sent and forgotten.
            await kiosk.fill('#documents-email', 'not-an-address');
            await kiosk.click('.documents-email-send');
            const invalid = await status(kiosk);
            // Touch alone: the address typed on the kiosk's keyboard.
            await kiosk.fill('#documents-email', '');
            const keys = kiosk.locator('.documents-email-form .osk');
            for (const character of ADDRESS) await keys.locator(`button[data-key="${character}"]`).first().click();
            assert((await kiosk.inputValue('#documents-email')) === ADDRESS, `the address typed on screen: ${await kiosk.inputValue('#documents-email')}`);
            await capture(kiosk, 'documents-kiosk-email');
            await keys.locator('button[data-key="enter"]').click();
            await eventually(async () => (await status(kiosk)) !== invalid && !(await status(kiosk)).endsWith('…'), 'the e-mail sent');
            assert((await kiosk.inputValue('#documents-email')) === '', 'the address is not kept in the form');
            await eventually(() => smtp.messages.length === 1, 'the e-mail at the SMTP server');
            const mail = smtp.messages[0];
            assert(mail.includes(ADDRESS), 'sent to the address typed');
            const attached = attachmentOf(mail, 'application/pdf');
            assert(attached?.equals(pdf(MARKER)), `the PDF attached as the expert sent it (${attached?.length} bytes)`);
            await sleep(1500);
            assert(smtp.messages.length === 1, 'sent once');
            const emailed = audit(server, 'document.emailed');
            assert(emailed.length === 1 && /^application\/pdf; \d+ bytes$/.test(emailed[0].detail) && emailed[0].actor_role === 'kiosk', `the e-mail audited by type and size: ${JSON.stringify(emailed)}`);
            await kiosk.click('.document-action[data-action="close"]');
            assert((await shown(kiosk)) === null, 'the citizen closes the document');

            // An interpreter joins; they see documents only while the expert allows it.
            const interpreter = await browser.page('interpreter');
            await openStaff(interpreter, server.base, 'interpreter', 'interpreter-sv-1');
            await interpreter.click('#presence');
            await acceptInterpretation(expert, interpreter, 'sv');
            await eventually(() => interpreter.evaluate(() => window.siltaApp.session?.media.channel.readyState === 'open'), 'the interpreter\'s call channel open');
            await expert.setInputFiles('#documents-file', { name: 'kuva.png', mimeType: 'image/png', buffer: PNG });
            await eventually(async () => (await shown(kiosk))?.type === 'image/png', 'the PNG at the kiosk');
            await sleep(1500);
            assert((await shown(interpreter)) === null, 'the interpreter does not see it unless the expert allows');
            await expert.check('#documents-interpreter');
            await expert.setInputFiles('#documents-file', { name: 'paatos.pdf', mimeType: 'application/pdf', buffer: pdf(MARKER) });
            await eventually(async () => (await shown(interpreter))?.pages === 1, 'the PDF at the interpreter once allowed', 20_000);
            await expert.click('.documents-still');
            await eventually(async () => (await shown(interpreter))?.purpose === 'still', 'a still at the interpreter once allowed', 20_000);
            await capture(interpreter, 'documents-interpreter');

            // Who passed what to whom, by type and size: never the content or a name.
            await eventually(() => audit(server, 'document.passed').length >= 6, 'the documents audited');
            const passed = audit(server, 'document.passed');
            assert(passed.every((row) => /^to .+; (application\/pdf|image\/png|image\/jpeg); \d+ bytes$/.test(row.detail)), `audit rows: ${JSON.stringify(passed)}`);
            assert(passed.some((row) => row.actor_role === 'kiosk' && row.detail.includes('image/jpeg') && row.detail.includes('expert VERO')), `the still audited kiosk → expert: ${JSON.stringify(passed)}`);
            assert(passed.some((row) => row.actor_role === 'expert' && row.detail.includes('application/pdf') && row.detail.includes('interpreter')), `the PDF audited expert → kiosk and interpreter: ${JSON.stringify(passed)}`);
            assert(!JSON.stringify(passed).includes(kioskId), 'roles and organisations, not participants');

            await endByExpert(expert, kiosk);
            assert((await shown(kiosk)) === null && (await shown(expert)) === null, 'the documents go with the call');
            await sleep(1000);
            const stored = spawnSync('grep', ['-rl', '-a', '-e', MARKER, '-e', ADDRESS, server.dataDir], { encoding: 'utf8' });
            assert(stored.stdout.trim() === '', `the data directory holds a document or the address:\n${stored.stdout}`);
            server.secrets = [MARKER, ADDRESS];
          },
          {
            env: {
              SILTA_LOG__FILTER: 'debug',
            SILTA_TELEMETRY__OTLP_ENDPOINT: otlp.endpoint,
              SILTA_BOOKING__NOTIFICATIONS__EMAIL__ADAPTER: 'smtp',
              SILTA_BOOKING__NOTIFICATIONS__EMAIL__HOST: '127.0.0.1',
              SILTA_BOOKING__NOTIFICATIONS__EMAIL__PORT: String(smtp.port),
              SILTA_BOOKING__NOTIFICATIONS__EMAIL__FROM: 'Silta <noreply@silta.invalid>',
              SILTA_BOOKING__NOTIFICATIONS__EMAIL__SECURITY: 'none',
            },
            keepLog: true,
          },
          async (server) => {
            const log = server.fullLog();
            assert(log.length > 10_000, `the debug log was captured (${log.length} bytes)`);
            const exported = otlp.bytes();
            assert(otlp.receivedSpans() && exported.length > 1000, `spans were exported (${exported.length} bytes)`);
            for (const secret of server.secrets ?? []) {
              assert(!log.includes(Buffer.from(secret)), `the server log holds ${secret}`);
              assert(!exported.includes(Buffer.from(secret)), `the OTLP export holds ${secret}`);
            }
          },
        );
      } finally {
        await smtp.close();
        await otlp.close();
      }
    },
  },
];
