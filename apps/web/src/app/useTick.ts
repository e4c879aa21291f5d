import { useEffect, useState } from 'react';

/** Re-render every `ms` while `on` (for countdowns such as "retry in 3 s"). */
export function useTick(on: boolean, ms: number): void {
  const [, setN] = useState(0);
  useEffect(() => {
    if (!on) return;
    const h = setInterval(() => setN((n) => n + 1), ms);
    return () => clearInterval(h);
  }, [on, ms]);
}
