// <TimelineCanvas>: the React shell around the timeline renderer. React owns
// only the DOM (a container and a canvas); drawing, zoom and pointer handling
// live in TimelineRenderer, created and destroyed in one effect, which reads
// the model through getState()/subscribe() and draws in one rAF scheduler.

import { useEffect, useRef, useState } from 'react';
import type { TimelineCanvasProps } from './model.ts';
import { TimelineRenderer } from './renderer.ts';

export function TimelineCanvas({ model, className }: TimelineCanvasProps) {
  const hostRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [unsupported, setUnsupported] = useState(false);

  useEffect(() => {
    const host = hostRef.current;
    const canvas = canvasRef.current;
    if (!host || !canvas) return;
    const renderer = TimelineRenderer.create(host, canvas, model);
    setUnsupported(renderer === null);
    return () => renderer?.destroy();
  }, [model]);

  return (
    <div
      ref={hostRef}
      className={className}
      style={{ position: 'relative', width: '100%', height: '100%', overflow: 'hidden' }}
      data-testid="timeline"
    >
      <canvas
        ref={canvasRef}
        style={{ position: 'absolute', inset: 0, display: 'block', cursor: 'crosshair' }}
        aria-label="Timeline of threads, completion packets and port counters"
        role="img"
      />
      {unsupported && (
        <p style={{ position: 'absolute', inset: 0, margin: 0, padding: 16, color: '#7d8590' }}>
          This browser cannot draw the timeline (no 2D canvas).
        </p>
      )}
    </div>
  );
}
