/* SPDX-License-Identifier: MIT */
/*
 * The terminal device ("legato device"): signs in to a legato server by the
 * OAuth device flow (a QR code and a user code printed on the terminal, then
 * polling the token endpoint), keeps the tokens in DATA_DIR/device.json
 * (mode 0600, written atomically), plays a track by streaming it to a file,
 * and signs out by revoking the tokens. Each function returns an exit status
 * (0 success, 1 failure) after printing what went wrong on stderr.
 */
#ifndef LG_HTTP_DEVICE_CLIENT_H
#define LG_HTTP_DEVICE_CLIENT_H

/* Signs in to server (http://host:port) as a device named name. */
int lg_device_cli_login(const char *server, const char *name, const char *data_dir);
/* Streams track id to out_path (NULL or "-": stdout), refreshing the tokens first
 * when they have expired. */
int lg_device_cli_play(const char *data_dir, const char *id, const char *out_path);
/* Revokes the saved tokens and deletes device.json. */
int lg_device_cli_logout(const char *data_dir);

#endif
