import type { KernelWrite, ObservedLink, Rtnetlink } from '../../src/kernel/rtnetlink.ts';

/**
 * One write through the batch API (the only write API seaway has), rejecting with its error as the
 * batch reports it: kernel tests check one operation at a time.
 */
export async function applyOne(rtnl: Rtnetlink, write: KernelWrite): Promise<void> {
  const [result] = await rtnl.apply([write]);
  if (!result) throw new Error('apply returned no result for one write');
  if (!result.ok) throw result.error;
}

/** The link with this name, from a full link dump. */
export async function linkNamed(rtnl: Rtnetlink, name: string): Promise<ObservedLink | undefined> {
  return (await rtnl.listLinks()).find((link) => link.name === name);
}
