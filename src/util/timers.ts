// Delays, in one place (the agent's polling loops, the lab, the bench): sleep(ms).
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
