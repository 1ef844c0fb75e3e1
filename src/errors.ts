/** An error the user can fix (bad config, bad input, missing permission). The CLI prints its
 * message alone, without a stack trace. */
export class UserError extends Error {
  override readonly name = 'UserError';
}
