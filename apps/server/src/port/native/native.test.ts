import { describe, expect, it } from 'vitest';
import { PortError, createPort, defaultBackend } from '../index.ts';
import { addonPath, defaultAddonPath, loadAddon, nativeAddonPresent } from './addon.ts';
import { asNativeDescriptor, nextIoId } from './shared.ts';

// These two describe Linux and macOS; on Windows they are skipped, visibly
// (the native backend's own tests run there, and under Wine: pnpm test:native).
const onWindows = process.platform === 'win32';

describe('the native backend away from Windows', () => {
  it.skipIf(onWindows)('is not present, so the default backend is the emulation', () => {
    expect(nativeAddonPresent()).toBe(false);
    expect(defaultBackend()).toBe('emulated');
  });

  it.skipIf(onWindows)(
    'refuses to create a port with ERR_PORT_BACKEND instead of crashing',
    async () => {
      const e = await createPort({ backend: 'native', concurrency: 1, arenaBytes: 64 }).catch(
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(PortError);
      expect((e as PortError).code).toBe('ERR_PORT_BACKEND');
      expect(() => loadAddon(addonPath())).toThrow(PortError);
    },
  );

  it('finds the addon next to the sources unless the environment names one', () => {
    const saved = process.env.IOCPSCOPE_NATIVE_ADDON;
    try {
      delete process.env.IOCPSCOPE_NATIVE_ADDON;
      expect(addonPath()).toBe(defaultAddonPath());
      expect(defaultAddonPath()).toMatch(
        /apps[\\/]server[\\/]native[\\/]build[\\/]Release[\\/]iocpscope\.node$/,
      );
      process.env.IOCPSCOPE_NATIVE_ADDON = 'C:\\x\\iocpscope.node';
      expect(addonPath()).toBe('C:\\x\\iocpscope.node');
    } finally {
      if (saved === undefined) delete process.env.IOCPSCOPE_NATIVE_ADDON;
      else process.env.IOCPSCOPE_NATIVE_ADDON = saved;
    }
  });

  it('rejects a descriptor that is not a native one with ERR_PORT_DESCRIPTOR', () => {
    const bad = [
      { backend: 'emulated' },
      {
        backend: 'native',
        addonPath: 'x',
        portId: 1,
        arena: new ArrayBuffer(4),
        ctl: new SharedArrayBuffer(16),
        concurrency: 1,
        maxThreads: 1,
      },
      {
        backend: 'native',
        addonPath: 'x',
        portId: 1,
        arena: new SharedArrayBuffer(4),
        ctl: new SharedArrayBuffer(4),
        concurrency: 1,
        maxThreads: 1,
      },
    ];
    for (const d of bad) {
      expect(() => asNativeDescriptor(d as never)).toThrow(
        expect.objectContaining({ code: 'ERR_PORT_DESCRIPTOR' }),
      );
    }
    const good = {
      backend: 'native',
      addonPath: 'x',
      portId: 1,
      arena: new SharedArrayBuffer(4),
      ctl: new SharedArrayBuffer(16),
      concurrency: 1,
      maxThreads: 1,
    };
    expect(asNativeDescriptor(good as never).portId).toBe(1);
  });

  it('hands out ioIds in sequence, never 0, across the u32 wrap', () => {
    const ctl = new Uint32Array(new SharedArrayBuffer(16));
    expect([nextIoId(ctl), nextIoId(ctl)]).toEqual([1, 2]);
    ctl[1] = 0xfffffffe;
    expect([nextIoId(ctl), nextIoId(ctl)]).toEqual([0xffffffff, 1]);
  });
});
