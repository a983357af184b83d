/** The message of anything thrown (a non-Error is printed as it is). */
export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
