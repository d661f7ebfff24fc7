// SPDX-License-Identifier: MIT
// A server thread that finds 128 requests ready at once (as many events as
// its event loop takes in one call) answers them at once. libmicrohttpd
// 0.9.75 asks the kernel again after a full batch, with the wait it worked
// out before, and slept on the batch it held until the next connection
// timeout: 128 players on one thread, all waiting. The test holds the
// server stopped (every thread of it, checked in /proc) while 128 keep-alive
// connections send a request each, waits until all 128 lie unread in the
// server's sockets, so that one call finds them, then lets it go on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import {
  addUser, cleanup, makeAudio, sql, startServer, tmpDir, tokenAuth, url, waitFor,
} from './lib.mjs';

const CONNS = 128;

// Whether every thread of process pid has stopped (SIGSTOP takes effect
// when each thread is next scheduled, not when kill returns).
function stopped(pid) {
  return readdirSync(`/proc/${pid}/task`).every((t) => {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'T';
  });
}

// How many established server sockets on port hold unread bytes
// (/proc/net/tcp: local address, state 01, then tx_queue:rx_queue in hex).
function unreadServerSockets(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[1].endsWith(`:${hexPort}`) || f[3] !== '01') continue;
    if (parseInt(f[4].split(':')[1], 16) > 0) n++;
  }
  return n;
}

// A keep-alive connection that sends requests and reads 206 answers with a
// body of known length, one at a time.
function connection(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => resolve(conn));
    let buf = Buffer.alloc(0);
    let waiting = null;
    const conn = {
      sock,
      send(req) {
        return new Promise((res, rej) => {
          waiting = { res, rej };
          sock.write(req);
        });
      },
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || !waiting) return;
      const head = buf.subarray(0, end).toString('latin1');
      const len = Number((head.match(/\r\ncontent-length: *(\d+)/i) || [])[1] || 0);
      if (buf.length < end + 4 + len) return;
      buf = buf.subarray(end + 4 + len);
      const w = waiting;
      waiting = null;
      w.res(Number(head.match(/^HTTP\/1\.1 (\d{3})/)[1]));
    });
    sock.on('error', (e) => (waiting ? waiting.rej(e) : reject(e)));
  });
}

test('128 requests ready at once on one server thread are answered at once', async () => {
  const dir = tmpDir('legato-loop-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  makeAudio(join(dirs.music, 'a.mp3'), { seconds: 1 });
  addUser(dirs, 'ann', 'pw-ann');
  const srv = await startServer(dirs, ['--http-threads', '1']);
  const conns = [];
  try {
    const db = join(dirs.data, 'legato.db');
    await waitFor(() => sql(db, 'SELECT count(*) FROM tracks') === '1', { what: 'the scan' });
    const id = sql(db, 'SELECT id FROM tracks');
    const u = new URL(url(srv.base, '/rest/stream.view', { id, ...tokenAuth('ann', 'pw-ann') }));
    const req = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n`;
    for (let i = 0; i < CONNS; i++) conns.push(await connection(srv.port));
    // One answered request each: every connection now idles in the
    // server's epoll set, waiting for its next request.
    for (const c of await Promise.all(conns.map((c) => c.send(req)))) assert.equal(c, 206);

    process.kill(srv.proc.pid, 'SIGSTOP');
    let answers;
    try {
      await waitFor(() => stopped(srv.proc.pid), { timeoutMs: 5000, what: 'the stopped server' });
      answers = Promise.all(conns.map((c) => c.send(req)));
      // All 128 requests wait in the server's sockets before it goes on,
      // so that its first call finds them in one batch.
      await waitFor(() => unreadServerSockets(srv.port) === CONNS,
        { timeoutMs: 5000, what: `${CONNS} unread requests` });
    } finally {
      process.kill(srv.proc.pid, 'SIGCONT');
    }
    const t0 = Date.now();
    let timer;
    const late = new Promise((res) => { timer = setTimeout(() => res('late'), 10000); });
    const got = await Promise.race([answers, late]);
    clearTimeout(timer);
    assert.notEqual(got, 'late', 'the 128 answers did not come within 10 s');
    for (const status of got) assert.equal(status, 206);
    assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
  } finally {
    for (const c of conns) c.sock.destroy();
    const r = await srv.stop();
    assert.doesNotMatch(srv.log(), /AddressSanitizer|LeakSanitizer|runtime error:/);
    assert.equal(r.code, 0, srv.log().slice(-2000));
    cleanup(dir);
  }
});
