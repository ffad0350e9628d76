#!/bin/bash
# The network backends are modules (backends/registry.c), loaded by the
# first pool of their type: the binary links none of their libraries, a
# loaded module resolves every poolkeeper function it uses from the binary
# (shown by the backend's own error about a closed port, which only its
# code gives) and has none of them in it, and a module that is missing, not a module, or a module of
# another type is a clear error of each pool of that type, not a crash nor
# "not supported". No daemon needed: the pools point at 127.0.0.1:1.
# Usage: test-modules.sh TYPE...   (the types whose module this build has)
set -u
. "$PK_TEST_DATA/tap.sh"
PK=${POOLKEEPER:?}
MODS=${POOLKEEPER_MODULE_DIR:?}
tmpdir modules
export POOLKEEPER_CONFIG=/dev/null
R=$T/repo S=$T/state/state.db
mkdir -p "$R/pools"
tgit init -q "$R"

declare -A pool_of want_err
for t in "$@"; do
    case $t in
    rbd)
        pool_of[$t]=ceph
        want_err[$t]="Ceph monitors unreachable at '127\.0\.0\.1:1'"
        cat >"$R/pools/ceph.xml" <<XML
<pool type='rbd'>
  <name>ceph</name>
  <source>
    <name>rbd</name>
    <host name='127.0.0.1' port='1'/>
  </source>
</pool>
XML
        ;;
    gluster)
        pool_of[$t]=gl
        want_err[$t]="gluster server unreachable at '127\.0\.0\.1:1'"
        cat >"$R/pools/gl.xml" <<XML
<pool type='gluster'>
  <name>gl</name>
  <source>
    <host name='127.0.0.1' port='1'/>
    <dir path='/'/>
    <name>vol</name>
  </source>
</pool>
XML
        ;;
    iscsi-direct)
        pool_of[$t]=isd
        want_err[$t]="iSCSI portal unreachable at '127\.0\.0\.1:1'"
        cat >"$R/pools/isd.xml" <<XML
<pool type='iscsi-direct'>
  <name>isd</name>
  <source>
    <host name='127.0.0.1' port='1'/>
    <device path='iqn.2024-01.org.example:t1'/>
    <initiator>
      <iqn name='iqn.2024-01.org.example:init'/>
    </initiator>
  </source>
</pool>
XML
        ;;
    *) echo "Bail out! unknown pool type '$t'"; exit 1 ;;
    esac
done
# and a dir pool, which needs no module
mkdir -p "$T/dirpool"
printf "<pool type='dir'><name>d</name><target><path>%s</path></target></pool>\n" "$T/dirpool" >"$R/pools/d.xml"
tgit -C "$R" add -A
tgit -C "$R" commit -qm "network pools"

libs=$(ldd "$PK")
for lib in librbd librados libgfapi libiscsi libcurl; do
    unlike "$libs" "^[[:space:]]*$lib\.so" "the binary does not link $lib"
done

# A module holds its backend and nothing of poolkeeper's own libraries: a
# second copy of those (their globals: the log level, the fault hook...)
# would be a bug. The executable exports them for the module instead.
exe_syms=$(nm -D --defined-only "$PK" | awk '{ print $3 }' | sort)
for t in "$@"; do
    mod_syms=$(nm -D --defined-only "$MODS/pk-backend-$t.so" | awk '$3 ~ /^pk_/ { print $3 }' | sort)
    like "$mod_syms" "^pk_backend_module_version$" "$t: the module exports its version"
    is "$(comm -12 <(echo "$exe_syms") <(echo "$mod_syms") | tr '\n' ' ')" "" \
        "$t: the module defines no symbol the executable has"
    undefined=$(nm -D --undefined-only "$MODS/pk-backend-$t.so" | awk '$2 ~ /^pk_/ { print $2 }' | sort)
    is "$(comm -23 <(echo "$undefined") <(echo "$exe_syms") | tr '\n' ' ')" "" \
        "$t: the executable exports every poolkeeper function the module uses"
done

ok "validate needs no module" env POOLKEEPER_MODULE_DIR="$T/none" "$PK" validate "$R"

out=$("$PK" plan --desired "$R" --state "$S" 2>&1)
for t in "$@"; do
    like "$out" "cannot observe pool '${pool_of[$t]}': ${want_err[$t]}" \
        "$t: the module is loaded and its own code reports the closed port"
done
unlike "$out" "needs module|undefined symbol|not supported" "no pool reports a module problem"

out=$(POOLKEEPER_MODULE_DIR=$T/none "$PK" plan --desired "$R" --state "$S" 2>&1)
for t in "$@"; do
    like "$out" "cannot observe pool '${pool_of[$t]}': pool type '$t' needs module '$T/none/pk-backend-$t\.so': cannot open shared object file" \
        "$t: a missing module is the pool's error, with its path and dlerror's reason"
done
like "$out" "No changes planned" "plan goes on with the other pools"

# Not an ELF file; a library that is no poolkeeper module; another type's module.
first=$1
mkdir -p "$T/bad" "$T/other" "$T/swap"
echo "not a module" >"$T/bad/pk-backend-$first.so"
out=$(POOLKEEPER_MODULE_DIR=$T/bad "$PK" plan --desired "$R" --state "$S" 2>&1)
like "$out" "pool type '$first' needs module '$T/bad/pk-backend-$first\.so': .*(invalid ELF header|file too short)" \
    "a file that is not a shared object: dlerror's reason"
libz=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ { print $NF; exit }')
if [ -n "$libz" ]; then
    cp "$libz" "$T/other/pk-backend-$first.so"
    out=$(POOLKEEPER_MODULE_DIR=$T/other "$PK" plan --desired "$R" --state "$S" 2>&1)
    like "$out" "pool type '$first' needs module '$T/other/pk-backend-$first\.so', which is not a poolkeeper backend module" \
        "a shared library that is not a module is refused"
fi
if [ $# -ge 2 ]; then
    cp "$MODS/pk-backend-$2.so" "$T/swap/pk-backend-$first.so"
    out=$(POOLKEEPER_MODULE_DIR=$T/swap "$PK" plan --desired "$R" --state "$S" 2>&1)
    like "$out" "pool type '$first' needs module '$T/swap/pk-backend-$first\.so', which has no table 'pk_backend_${first//-/_}' for it" \
        "the module of another pool type is refused"
fi

# Only a pool of the type loads a module, and only to observe or act on it:
# dumpxml of the dir pool, whose engine knows the other pools too (and
# closes their backends' connections at the end), loads none. The dynamic
# linker's own log shows what a process loads.
loads=$(LD_DEBUG=files "$PK" dumpxml --desired "$R" --state "$S" pool d 2>&1 >/dev/null)
like "$loads" "file=libc\.so" "the dynamic linker's log is there"
unlike "$loads" "file=.*pk-backend-" "dumpxml of a dir pool loads no backend module"
loads=$(LD_DEBUG=files "$PK" plan --desired "$R" --state "$S" 2>&1 >/dev/null)
like "$loads" "file=.*pk-backend-$first\.so .*dynamically loaded" "plan loads the module it needs"
done_testing
