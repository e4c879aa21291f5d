# node-gyp build description for Windows (MSVC): `npx node-gyp rebuild` in this
# directory writes build/Release/iocpscope.node, the path the native backend
# loads (apps/server/src/port/native/addon.ts). On Linux, build-mingw.sh
# cross-builds the same file with mingw-w64.
{
  "targets": [
    {
      "target_name": "iocpscope",
      "sources": ["src/iocp.c"],
      "defines": ["_WIN32_WINNT=0x0602", "WIN32_LEAN_AND_MEAN"],
      "conditions": [
        [
          "OS=='win'",
          {
            "libraries": ["ws2_32.lib", "ntdll.lib"],
            "msvs_settings": {
              "VCCLCompilerTool": { "WarningLevel": 4, "WarnAsError": "true", "CompileAs": 1 }
            }
          }
        ]
      ]
    }
  ]
}
