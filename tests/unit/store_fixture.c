/* SPDX-License-Identifier: MIT */
#include "store_fixture.h"

#include <stdlib.h>

#include <unistd.h>

#include "core/common.h"

struct lg_store *lg_fx_store(const char *dir, const char *name)
{
    char *path = lg_xasprintf("%s/%s.db", dir, name);
    unlink(path);
    struct lg_store *s = NULL;
    int r = lg_store_open(path, &s);
    lg_assert(r == 0);
    free(path);
    return s;
}

int64_t lg_fx_user(struct lg_store *s, const char *name, int admin)
{
    unsigned char box[4] = { 1, 2, 3, 4 };
    struct lg_user u = { .name = (char *)name,
                         .pass_hash = (char *)"x",
                         .pass_box = box,
                         .pass_box_len = sizeof(box),
                         .is_admin = admin };
    int64_t id = 0;
    int r = lg_store_user_add(s, &u, &id);
    lg_assert(r == 0);
    return id;
}
