#!/bin/sh
# Cross-builds the addon for Windows x64 with mingw-w64 (see
# shared/docs/windows-native.md): an import library for node.exe from
# node-api-headers' def file, then one C file linked against it, ws2_32 and
# ntdll. Output: build/Release/iocpscope.node (where node-gyp puts it too).
#
# Usage: build-mingw.sh <node-api-headers dir>
#   (scripts/native/test.mjs fetches the headers and calls this.)
set -eu
HEADERS=${1:?usage: build-mingw.sh <node-api-headers dir>}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT="$HERE/build/Release"
OBJ="$HERE/build/mingw"
CC=${CC:-x86_64-w64-mingw32-gcc}
DLLTOOL=${DLLTOOL:-x86_64-w64-mingw32-dlltool}
command -v "$CC" >/dev/null || { echo "build-mingw: $CC not found (apt-get install g++-mingw-w64-x86-64)" >&2; exit 2; }
mkdir -p "$OUT" "$OBJ"
# The def file names NODE.EXE; the loader matches the import by file name.
sed 's/^NAME .*/NAME node.exe/' "$HEADERS/def/node_api.def" > "$OBJ/node_api.def"
"$DLLTOOL" -d "$OBJ/node_api.def" -l "$OBJ/libnode.a" -D node.exe
"$CC" -shared -O2 -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter \
  -DNODE_GYP_MODULE_NAME=iocpscope -D_WIN32_WINNT=0x0602 \
  -I "$HEADERS/include" "$HERE/src/iocp.c" \
  -o "$OUT/iocpscope.node" -L "$OBJ" -lnode -lws2_32 -lntdll -static-libgcc
echo "build-mingw: $OUT/iocpscope.node"
