import { describe, expect, it } from 'vitest';
import { BIG_SESSION, STRINGS, SAMPLE_EVENTS, encodeAll } from '../test/samples.ts';
import { exportChromeTrace } from './export-chrome.ts';
import { StringTable } from './strings.ts';

interface ChromeEvent {
  name: string;
  ph: string;
  tid?: number;
  ts?: number;
  dur?: number;
  bind_id?: number;
  flow_in?: boolean;
  flow_out?: boolean;
  args?: Record<string, unknown>;
}

function exportSample(): { chunks: string[]; events: ChromeEvent[] } {
  const strings = new StringTable();
  for (const [id, s] of STRINGS) strings.set(id, s);
  const chunks: string[] = [];
  exportChromeTrace(encodeAll(SAMPLE_EVENTS), strings, (c) => chunks.push(c));
  const json = JSON.parse(chunks.join('')) as { traceEvents: ChromeEvent[] };
  return { chunks, events: json.traceEvents };
}

describe('Chrome trace export', () => {
  it('names threads from ThreadStart', () => {
    const { events } = exportSample();
    const names = events.filter((e) => e.ph === 'M' && e.name === 'thread_name');
    expect(names.map((e) => e.args?.['name'])).toContain('worker-0 [worker]');
  });

  it('draws a handler slice from GqcsReturn to the next GqcsEnter with a flow from the post', () => {
    const { events } = exportSample();
    const recv = events.find((e) => e.ph === 'X' && e.name === 'recv completion')!;
    expect(recv.ts).toBeCloseTo(0.151, 6);
    expect(recv.dur).toBeCloseTo(0.029, 6);
    expect(recv.flow_in).toBe(true);
    const post = events.find((e) => e.ph === 'X' && e.name === 'WSARecv')!;
    expect(post.flow_out).toBe(true);
    expect(post.bind_id).toBe(recv.bind_id);
  });

  it('emits IOCount counters with exact 64-bit session names', () => {
    const { events } = exportSample();
    const c = events.filter((e) => e.ph === 'C' && e.name === `IOCount session ${BIG_SESSION}`);
    expect(c.map((e) => e.args?.['value'])).toEqual([1, 2, 1, 1, 0]);
  });
});
