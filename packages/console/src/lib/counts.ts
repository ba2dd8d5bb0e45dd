/** The window event a page sends when it changed what the navigation counts (open findings, pending approvals). */
export const COUNTS_CHANGED = 'custos:counts-changed';

/** Asks the navigation to read its counts again now. */
export function countsChanged(): void {
  window.dispatchEvent(new Event(COUNTS_CHANGED));
}
