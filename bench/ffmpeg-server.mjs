// SPDX-License-Identifier: MIT
// The approach other servers take to transcoding, as a comparison for
// bench/listeners: GET /stream?file=NAME[&offset=S] spawns
// `ffmpeg -v error [-ss S] -i ROOT/NAME -map 0:a:0 -c:a libopus -b:a 128k -f ogg -`
// and pipes its output to the response as it comes (no pacing: only TCP
// back-pressure slows ffmpeg down, as with Navidrome-style servers), and
// kills ffmpeg when the client goes away. The offset is an input seek, the
// cheaper way to honour Subsonic's timeOffset.
//
// Usage: node bench/ffmpeg-server.mjs ROOT
// Listens on 127.0.0.1 (a free port) and prints "port N" once it does.
// Only plain file names inside ROOT are served.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const root = process.argv[2];
if (!root || !fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
  console.error('usage: node bench/ffmpeg-server.mjs ROOT');
  process.exit(2);
}
const children = new Set();

function fail(res, status, msg) {
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(`${msg}\n`);
}

function stream(req, res, url) {
  const name = url.searchParams.get('file') || '';
  const offset = Number(url.searchParams.get('offset') || 0);
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) return fail(res, 400, 'bad file');
  if (!Number.isFinite(offset) || offset < 0 || offset > 1e6) return fail(res, 400, 'bad offset');
  const file = path.join(root, name);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return fail(res, 404, 'no such file');
  const args = ['-v', 'error', ...(offset > 0 ? ['-ss', String(offset)] : []), '-i', file,
    '-map', '0:a:0', '-c:a', 'libopus', '-b:a', '128k', '-f', 'ogg', '-'];
  const ff = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(ff);
  let exited = false;
  ff.on('exit', (code, signal) => {
    exited = true;
    children.delete(ff);
    if (code !== 0 && !signal) res.destroy(); // a cut stream, not a silent short one
  });
  ff.on('error', (e) => {
    console.error(`ffmpeg-server: ${e.message}`);
    if (res.headersSent) res.destroy();
    else fail(res, 503, 'cannot start ffmpeg');
  });
  res.on('close', () => {
    if (!exited) ff.kill('SIGKILL');
  });
  res.writeHead(200, { 'Content-Type': 'audio/ogg' });
  ff.stdout.pipe(res);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method !== 'GET' || url.pathname !== '/stream') return fail(res, 404, 'not found');
  stream(req, res, url);
});
server.keepAliveTimeout = 1000;
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));

function stop() {
  for (const ff of children) ff.kill('SIGKILL');
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
