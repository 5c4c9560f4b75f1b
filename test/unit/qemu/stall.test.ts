import { describe, expect, it } from 'vitest';
import { StallDetector } from '../../../src/qemu/stall.js';

describe('StallDetector', () => {
  it('fires only when no byte moved for the whole timeout', () => {
    const detector = new StallDetector(10_000);
    expect(detector.stalled(0, 0)).toBe(false);
    expect(detector.stalled(0, 9_999)).toBe(false);
    expect(detector.stalled(0, 10_000)).toBe(true);
  });

  it('treats slow but steady progress as healthy', () => {
    const detector = new StallDetector(10_000);
    for (let second = 0; second < 120; second++) expect(detector.stalled(second * 10, second * 1_000)).toBe(false);
  });
});
