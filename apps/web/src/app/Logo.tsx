export function Logo({ size = 18 }: { size?: number }) {
  return (
    <svg className="brand-mark" width={size} height={size} viewBox="0 0 16 16" aria-hidden="true">
      <rect width="16" height="16" rx="3" fill="#18202b" />
      <rect x="2" y="3" width="7" height="2" rx="0.5" fill="#4fb3ff" />
      <rect x="5" y="7" width="9" height="2" rx="0.5" fill="#50d18d" />
      <rect x="3" y="11" width="5" height="2" rx="0.5" fill="#f0a03c" />
    </svg>
  );
}
