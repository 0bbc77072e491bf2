/**
 * The bare workflow's activities: they do nothing, so the baseline measures Temporal alone.
 *
 * @module
 */
export const bareActivities = {
  async bareSubmit(_orderId: string): Promise<void> {},
  async bareIssuerEvent(_orderId: string): Promise<void> {},
};

export type BareActivities = typeof bareActivities;
