# ruff: noqa
# Attack: create empty files and folders in the work tmpfs until refused (at most 200,000):
#   tmpfs without an inode limit counts bytes only, so each costs the kernel memory (inodes,
#   dentries) but no space.
# Must hold: the work tmpfs refuses past its inode limit (the count reported stays under it);
#   the work directory is removed; the pool answers.
import posix

made = 0
try:
    while made < 200_000:
        if made % 2:
            posix.mkdir(f"d{made}")
        else:
            posix.close(posix.open(f"f{made}", posix.O_WRONLY | posix.O_CREAT))
        made += 1
except OSError as e:
    print(f"refused after {made}: {e}")
raise AssertionError(f"attack finished: made {made} inodes")
