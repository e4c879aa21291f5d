import { describe, expect, it } from 'vitest';
import { injectorOutcome } from './run.ts';

const DETACHED =
  '[iocpscope-inject] attached to process 36\nattached 36\n' +
  '[iocpscope-inject] detached from process 36: the DLL is unloaded\n';
const CRASH =
  "Inconsistency detected by ld.so: dl-fini.c: 87: _dl_fini: Assertion `ns != LM_ID_BASE || i == nloaded' failed!\n";

describe('injectorOutcome (attach, detach)', () => {
  it('an injector that detached, then died in Wine’s loader at exit: success, and said so', () => {
    const r = injectorOutcome(127, DETACHED + CRASH);
    expect(r.code).toBe(0);
    expect(r.note).toContain('dl-fini.c');
    expect(r.note).toContain('Wine');
  });

  it('the same crash before the detach was done: the failure stands', () => {
    expect(injectorOutcome(127, '[iocpscope-inject] attached to process 36\n' + CRASH)).toEqual({
      code: 127,
      note: null,
    });
  });

  it('any other exit is the injector’s own', () => {
    expect(injectorOutcome(0, DETACHED)).toEqual({ code: 0, note: null });
    expect(injectorOutcome(1, DETACHED + 'detaching failed\n')).toEqual({ code: 1, note: null });
    // another code with the line: not the loader's exit
    expect(injectorOutcome(134, DETACHED + CRASH)).toEqual({ code: 134, note: null });
    expect(injectorOutcome(127, DETACHED + 'wine: could not load ntdll.so\n')).toEqual({
      code: 127,
      note: null,
    });
  });
});
