import { describe, expect, it } from 'vitest';
import { arrivalAddress } from '../../../src/agent/main.js';

describe('arrivalAddress', () => {
  it('is the server address from SSH_CONNECTION', () => {
    expect(arrivalAddress({ SSH_CONNECTION: '10.0.0.1 51234 10.0.0.2 22' })).toBe('10.0.0.2');
    expect(arrivalAddress({ SSH_CONNECTION: 'fd00::1 40022 fd00::2 2222\n' })).toBe('fd00::2');
  });

  it('is undefined without SSH (local agent) or for a malformed value', () => {
    expect(arrivalAddress({})).toBeUndefined();
    expect(arrivalAddress({ SSH_CONNECTION: '' })).toBeUndefined();
    expect(arrivalAddress({ SSH_CONNECTION: '10.0.0.1 51234 10.0.0.2' })).toBeUndefined();
  });
});
