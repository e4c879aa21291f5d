// Small inline SVG icons: the Unicode media symbols (⏮ ⏵ ⏸) are missing from
// many system fonts, so the transport controls draw their own.

type IconName = 'first' | 'prev' | 'next' | 'last' | 'play' | 'pause';

const PATHS: Record<IconName, string> = {
  first: 'M3 2h2v12H3zM14 2v12L6 8z',
  prev: 'M12 2v12L4 8z',
  next: 'M4 2v12l8-6z',
  last: 'M11 2h2v12h-2zM2 2v12l8-6z',
  play: 'M4 2v12l10-6z',
  pause: 'M3 2h4v12H3zM9 2h4v12H9z',
};

export function Icon({ name, size = 12 }: { name: IconName; size?: number }) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 16 16"
      aria-hidden="true"
      style={{ display: 'block' }}
    >
      <path d={PATHS[name]} fill="currentColor" />
    </svg>
  );
}
