// SPDX-License-Identifier: MIT
// The page player (its interface is documented in src/http/share_page.h).
// It turns
//   <div id="player" data-tracks="JSON" data-start="INDEX" data-position="SECONDS"></div>
// into the cover and name of the track playing, one <audio controls> and the
// list of tracks: it starts track INDEX at SECONDS, plays on through the
// list, plays the track a click picks, and marks the one playing (class
// "now" and aria-current on its <li>; data-current on the div holds its
// index). Served as /static/player.js to pages whose CSP allows script,
// media and images of their own origin only, so it runs no inline code and
// builds everything with DOM calls and text nodes: titles come from tags
// and are never parsed as HTML.
(() => {
  'use strict';

  const root = document.getElementById('player');
  if (!root) return;

  let tracks;
  try {
    tracks = JSON.parse(root.dataset.tracks || '[]');
  } catch {
    tracks = [];
  }
  if (!Array.isArray(tracks)) tracks = [];
  tracks = tracks.filter((t) => t && typeof t.src === 'string');
  root.textContent = '';
  if (tracks.length === 0) return;

  let index = Number.parseInt(root.dataset.start || '0', 10);
  if (!(index >= 0 && index < tracks.length)) index = 0;
  let position = Number.parseFloat(root.dataset.position || '0');
  if (!Number.isFinite(position) || position < 0) position = 0;

  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    Object.assign(e, props);
    e.append(...children);
    return e;
  };
  const text = (v) => (typeof v === 'string' ? v : '');
  const mmss = (seconds) => {
    const s = Math.max(0, Math.round(Number(seconds) || 0));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };

  const cover = el('img', { className: 'player-cover', alt: '', width: 150, height: 150 });
  cover.hidden = true;
  const title = el('p', { className: 'player-title' });
  const audio = el('audio', { controls: true, preload: 'metadata' });
  const list = el('ol', { className: 'player-list' });

  // Where the next loaded track starts (seconds); only the first one may
  // start elsewhere than at 0.
  let seekTo = 0;

  function mark() {
    items.forEach((li, i) => {
      li.classList.toggle('now', i === index);
      if (i === index) li.setAttribute('aria-current', 'true');
      else li.removeAttribute('aria-current');
    });
    const t = tracks[index];
    title.textContent = [text(t.title), text(t.artist)].filter(Boolean).join(' — ');
    if (typeof t.cover === 'string') {
      cover.src = t.cover;
      cover.hidden = false;
    } else {
      cover.removeAttribute('src');
      cover.hidden = true;
    }
    root.dataset.current = String(index);
  }

  function play(i, at) {
    index = i;
    seekTo = at;
    audio.src = tracks[i].src;
    mark();
    const p = audio.play();
    // A browser that refuses to start without a gesture leaves the controls.
    if (p && typeof p.catch === 'function') p.catch(() => {});
  }

  const items = tracks.map((t, i) => {
    const pick = el('button', { type: 'button', className: 'player-pick' }, text(t.title));
    pick.addEventListener('click', () => play(i, 0));
    const li = el('li', {}, pick);
    if (text(t.artist)) li.append(` — ${t.artist}`);
    if (text(t.album)) li.append(` (${t.album})`);
    li.append(` ${mmss(t.duration)}`);
    if (typeof t.download === 'string') {
      li.append(' ', el('a', { href: t.download, download: '' }, 'Download'));
    }
    list.append(li);
    return li;
  });

  audio.addEventListener('loadedmetadata', () => {
    if (seekTo > 0) {
      const d = audio.duration;
      audio.currentTime = Number.isFinite(d) ? Math.min(seekTo, d) : seekTo;
    }
    seekTo = 0;
  });
  audio.addEventListener('ended', () => {
    if (index + 1 < tracks.length) play(index + 1, 0);
  });
  audio.addEventListener('error', () => {
    title.textContent = `${text(tracks[index].title)}: this track cannot be played here.`;
  });

  root.append(cover, title, audio, list);
  play(index, position);
})();
