#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generates a large synthetic music library for the scan benchmark.

One tiny MP3 audio payload is encoded once with the ffmpeg command line (no
tags); every track is then a unique ID3v2.4 tag (title, artist, album artist,
album, track, disc, year, genre) followed by that payload, so 10,000 files
take seconds to write. Layout: OUT/Artist NNN/Album NNNN/TT - Title.mp3.
Python standard library only.
"""
import argparse
import os
import subprocess
import sys
import tempfile

GENRES = ["Rock", "Jazz", "Classical", "Electronic", "Folk", "Hip-Hop", "Ambient", "Blues"]


def syncsafe(n):
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def text_frame(frame_id, text):
    data = b"\x03" + text.encode("utf-8")  # encoding 3: UTF-8
    return frame_id.encode("ascii") + syncsafe(len(data)) + b"\x00\x00" + data


def id3v24(tags):
    body = b"".join(text_frame(k, v) for k, v in tags)
    return b"ID3\x04\x00\x00" + syncsafe(len(body)) + body


def make_payload(seconds):
    """A short mono MP3 with a Xing/Info header and no tags."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "payload.mp3")
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", f"sine=frequency=440:duration={seconds}", "-ac", "1", "-b:a", "64k",
             "-id3v2_version", "0", "-write_id3v1", "0", "-map_metadata", "-1", out],
            check=True)
        with open(out, "rb") as f:
            return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    ap.add_argument("--tracks", type=int, default=10000)
    ap.add_argument("--artists", type=int, default=100)
    ap.add_argument("--tracks-per-album", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=0.5, help="length of the audio payload")
    args = ap.parse_args()

    payload = make_payload(args.seconds)
    n_albums = max(1, (args.tracks + args.tracks_per_album - 1) // args.tracks_per_album)
    albums_per_artist = max(1, (n_albums + args.artists - 1) // args.artists)
    made_dirs = set()
    for i in range(args.tracks):
        album = i // args.tracks_per_album
        artist = album // albums_per_artist
        track = i % args.tracks_per_album + 1
        d = os.path.join(args.out, f"Artist {artist:03d}", f"Album {album:04d}")
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        title = f"Song {i:05d}"
        tags = [
            ("TIT2", title),
            ("TPE1", f"Artist {artist:03d}"),
            ("TPE2", f"Artist {artist:03d}"),
            ("TALB", f"Album {album:04d}"),
            ("TRCK", f"{track}/{args.tracks_per_album}"),
            ("TPOS", "1/1"),
            ("TDRC", str(1960 + album % 60)),
            ("TCON", GENRES[album % len(GENRES)]),
        ]
        with open(os.path.join(d, f"{track:02d} - {title}.mp3"), "wb") as f:
            f.write(id3v24(tags))
            f.write(payload)
    print(f"{args.tracks} tracks, {n_albums} albums, {min(args.artists, n_albums)} artists "
          f"in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
