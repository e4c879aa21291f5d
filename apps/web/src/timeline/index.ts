// Public surface of web/timeline.
export { TimelineCanvas } from './TimelineCanvas.tsx';
export {
  fullView,
  MIN_VIEW_NS,
  type TimelineCanvasProps,
  type TimelineFinding,
  type TimelineModel,
  type TimelineRange,
  type TimelineRemote,
  type TimelineState,
} from './model.ts';
export { shownLanes } from './rows.ts';
export { activityStart, activityView } from './fit.ts';
export { COLORS } from './theme.ts';
