/* Real loop devices for the block-device backend tests.
 *
 * Every device attached here is detached again: at exit, and on a fatal
 * signal (the handler unmounts what was registered, then runs
 * `losetup -d`), so a failing or killed test leaves no loop device and no
 * mount behind. Mounts made by the code under test are registered with
 * tl_cleanup_mount() so that they go first. */
#pragma once
#include "../tap.h"

/* Why these tests cannot run here (not root, no loop support, a missing
 * program), or NULL when they can. */
const char *tl_unavailable(void);
/* `losetup -f --show [-P] IMAGE` on a new sparse image of `size` bytes in
 * `dir`; the device path, or NULL (with a diagnostic). */
char *tl_loop_attach(const char *dir, const char *name, uint64_t size, bool partscan);
/* Detach now (also forgets it for the exit cleanup). */
void tl_loop_detach(const char *dev);
/* Unmount `path` (lazily) at exit or on a fatal signal, before detaching. */
void tl_cleanup_mount(const char *path);
/* Unmount now if mounted; true when nothing is mounted there afterwards. */
bool tl_umount(const char *path);
/* blkid's view of `dev` as "TYPE" / "PTTYPE" value, "" when none. */
char *tl_blkid_value(const char *dev, const char *tag);
