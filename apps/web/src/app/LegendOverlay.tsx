// The legend (issue 19 §10): every mark the timeline draws, drawn the way the
// timeline draws it (same colours, from timeline/theme.ts), with what it
// means. Opened from the top bar's "Legend" and from the help overlay.

import type { ReactNode } from 'react';
import { useActions, useAppStore } from '../state/hooks.tsx';
import { selectLegendOpen } from '../state/selectors.ts';
import { COLORS } from '../timeline/theme.ts';

const W = 34;
const H = 16;

function Svg({ children }: { children: ReactNode }) {
  return (
    <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} aria-hidden="true">
      {children}
    </svg>
  );
}

const bar = (fill: string, hatch = false) => (
  <Svg>
    <rect x="1" y="3" width={W - 2} height="10" fill={fill} />
    {hatch
      ? [0, 8, 16, 24].map((x) => (
          <line
            key={x}
            x1={x}
            y1="13"
            x2={x + 8}
            y2="3"
            stroke={COLORS.blockedHatch}
            strokeWidth="2"
          />
        ))
      : null}
  </Svg>
);

const tri = (fill: string, big = false) => (
  <Svg>
    <polygon points={big ? `17,1 22,15 12,15` : `17,4 21,14 13,14`} fill={fill} />
  </Svg>
);

const box = (stroke: string, fill?: string, size = 9) => (
  <Svg>
    <rect
      x={17 - size / 2}
      y={8 - size / 2}
      width={size}
      height={size}
      fill={fill ?? 'none'}
      fillOpacity={fill ? 0.22 : 0}
      stroke={stroke}
      strokeWidth="1.8"
    />
  </Svg>
);

const vline = (stroke: string, dash: string, label?: ReactNode) => (
  <Svg>
    <line x1="10" y1="0" x2="10" y2={H} stroke={stroke} strokeDasharray={dash} />
    {label}
  </Svg>
);

interface Item {
  mark: string;
  swatch: ReactNode;
  text: ReactNode;
}

const GROUPS: Array<{ title: string; items: Item[] }> = [
  {
    title: 'Thread lanes (one row per thread)',
    items: [
      {
        mark: 'waiting',
        swatch: bar(COLORS.waiting),
        text: 'waiting for work: in GQCS (a worker), in accept (the accept thread)',
      },
      {
        mark: 'running',
        swatch: bar(COLORS.running),
        text: 'running: handling a completion, or its own code',
      },
      {
        mark: 'blocked',
        swatch: bar(COLORS.blocked, true),
        text: 'blocked on something else: a lock, Sleep, synchronous I/O (the loud one)',
      },
      {
        mark: 'kernel',
        swatch: bar(COLORS.kernel),
        text: "the kernel: the completion port's own side, which queues the packets (its marks); not thread work",
      },
      {
        mark: 'partial',
        swatch: bar('#1b2028'),
        text: 'a faded bar: the state is only partly known in that pixel (zoomed out)',
      },
    ],
  },
  {
    title: 'Marks under a lane bar',
    items: [
      {
        mark: 'recv',
        swatch: tri(COLORS.recv),
        text: 'a recv completion dequeued (worker) or queued (kernel)',
      },
      { mark: 'send', swatch: tri(COLORS.send), text: 'a send completion' },
      {
        mark: 'post',
        swatch: tri(COLORS.post),
        text: 'a posted packet (PostQueuedCompletionStatus, an exit packet)',
      },
      {
        mark: 'fail',
        swatch: tri(COLORS.fail, true),
        text: 'a failed completion or packet (its Win32 code in the details)',
      },
      {
        mark: 'empty',
        swatch: tri(COLORS.empty),
        text: 'GQCS returned with nothing dequeued (a timeout, the port closed)',
      },
    ],
  },
  {
    title: 'Flows and boxes',
    items: [
      {
        mark: 'flow',
        swatch: (
          <Svg>
            <path d="M2,13 C14,13 20,3 32,3" stroke={COLORS.flow} strokeWidth="1.5" fill="none" />
          </Svg>
        ),
        text: 'a flow curve: post → packet queued → dequeued, for one overlapped I/O (drawn for every I/O when few are in view)',
      },
      {
        mark: 'flow-selected',
        swatch: (
          <Svg>
            <path
              d="M2,13 C14,13 20,3 32,3"
              stroke={COLORS.flowSelected}
              strokeWidth="2"
              fill="none"
            />
          </Svg>
        ),
        text: "the selected session's flows; the cursor's own flow is yellow",
      },
      {
        mark: 'session-box',
        swatch: box(COLORS.session, COLORS.session),
        text: "cyan squares: the selected session's events",
      },
      {
        mark: 'cursor-box',
        swatch: box(COLORS.cursor, undefined, 10),
        text: 'yellow square: the event at the cursor (the white one: under the pointer)',
      },
      {
        mark: 'search',
        swatch: box(COLORS.search, undefined, 12),
        text: 'amber rings: search matches',
      },
      {
        mark: 'evidence',
        swatch: box(COLORS.finding, undefined, 12),
        text: 'red rings: the evidence of the finding you went to',
      },
    ],
  },
  {
    title: 'On the time axis',
    items: [
      {
        mark: 'finding',
        swatch: (
          <Svg>
            <line
              x1="10"
              y1="8"
              x2="10"
              y2={H}
              stroke={COLORS.finding}
              strokeDasharray="3,3"
              opacity="0.6"
            />
            <polygon points="10,1 15,6 10,11 5,6" fill={COLORS.finding} />
          </Svg>
        ),
        text: 'red diamond and dashed line: a finding of the detectors, at its first event',
      },
      {
        mark: 'gap',
        swatch: vline(
          COLORS.gap,
          '2,2',
          <text x="13" y="11" fontSize="8" fill={COLORS.gap}>
            gap
          </text>,
        ),
        text: 'red dotted line: events were lost here ("N lost", or "gap" when the count is unknown: a reconnect, the history before a live join)',
      },
      {
        mark: 'marker',
        swatch: (
          <Svg>
            <path d="M10,1 L10,15 M10,1 L16,4 L10,7" stroke={COLORS.marker} fill="none" />
          </Svg>
        ),
        text: 'magenta flag: a marker the traced server wrote (a Marker event), with its label',
      },
      {
        mark: 'range',
        swatch: (
          <Svg>
            <rect x="2" y="0" width="30" height={H} fill={COLORS.range} />
            <line x1="2.5" y1="0" x2="2.5" y2={H} stroke={COLORS.rangeEdge} />
            <line x1="31.5" y1="0" x2="31.5" y2={H} stroke={COLORS.rangeEdge} />
          </Svg>
        ),
        text: 'a blue band: the selected time range (Shift+drag), its length and event count on the axis',
      },
    ],
  },
  {
    title: 'Tracks',
    items: [
      {
        mark: 'queue',
        swatch: (
          <Svg>
            <rect x="1" y="7" width="32" height="8" fill={COLORS.queueFill} />
            <line x1="1" y1="7.5" x2="33" y2="7.5" stroke={COLORS.queue} />
          </Svg>
        ),
        text: 'Queue depth: packets waiting in the port (the bright edge spans the least and most within a pixel)',
      },
      {
        mark: 'running-track',
        swatch: (
          <Svg>
            <rect x="1" y="7" width="32" height="8" fill={COLORS.runFill} />
            <rect x="20" y="2" width="8" height="5" fill={COLORS.overcommit} />
            <line
              x1="1"
              y1="7.5"
              x2="33"
              y2="7.5"
              stroke={COLORS.concurrency}
              strokeDasharray="4,3"
              opacity="0.6"
            />
          </Svg>
        ),
        text: 'Running: port threads running; the dashed line is the concurrency value, red above it is overcommit',
      },
      {
        mark: 'iocount',
        swatch: (
          <Svg>
            <path
              d="M1,12 L9,12 L9,7 L21,7 L21,12 L33,12"
              stroke={COLORS.ioCount}
              strokeWidth="1.5"
              fill="none"
            />
            <polygon points="9,0 12,5 6,5" fill={COLORS.ioUp} />
            <polygon points="21,16 24,11 18,11" fill={COLORS.ioDown} />
          </Svg>
        ),
        text: "IOCount 0x…: a session's IOCount (the selected one, and every pinned one); ▲ each +1, ▼ each -1 (click one: the ledger shows it); red below zero",
      },
    ],
  },
  {
    title: 'Sessions list',
    items: [
      {
        mark: 'italic-session',
        swatch: (
          <Svg>
            <text x="1" y="12" fontSize="10" fontStyle="italic" fill="#7d8590">
              0x1f
            </text>
          </Svg>
        ),
        text: 'an italic grey id: the session began before this view did (a live join, a gap), so its early history is unknown and it is not judged',
      },
    ],
  },
];

export function LegendOverlay() {
  const open = useAppStore(selectLegendOpen);
  const { setLegendOpen } = useActions();
  if (!open) return null;
  return (
    <div className="overlay" onClick={() => setLegendOpen(false)} data-testid="legend">
      <div
        className="dialog legend"
        role="dialog"
        aria-label="Legend"
        onClick={(e) => e.stopPropagation()}
      >
        <div style={{ display: 'flex', alignItems: 'center', marginBottom: 8 }}>
          <h2 style={{ margin: 0 }}>What the timeline draws</h2>
          <div style={{ flex: 1 }} />
          <button className="icon-btn" onClick={() => setLegendOpen(false)} aria-label="Close">
            ✕
          </button>
        </div>
        <div className="legend-cols">
          {GROUPS.map((g) => (
            <div key={g.title}>
              <div className="subhead">{g.title}</div>
              {g.items.map((it) => (
                <div className="legend-item" key={it.mark} data-mark={it.mark}>
                  {it.swatch}
                  <span>{it.text}</span>
                </div>
              ))}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
