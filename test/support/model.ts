/**
 * What the model tests share: the run count (from `FC_RUNS`; CI sets 1000) and a fast-check
 * scheduler that checks the invariants of the run in progress after every step it schedules.
 */
import fc from 'fast-check';

export const runs = Number(process.env['FC_RUNS'] ?? 100);

let checkAfterStep: () => void = () => {};

/** Makes `check` the invariant check of the run that is starting. */
export function checkEveryStep(check: () => void): void {
  checkAfterStep = check;
}

/** `fc.scheduler()` whose every step is followed by the check given to {@link checkEveryStep}. */
export const checkedScheduler = fc.scheduler({
  act: async (step) => {
    await step();
    checkAfterStep();
  },
});
