import { type GroupMembers } from './group-members.port';
import { checkMembershipChange } from './read-models.rules';

interface Membership {
  member: boolean;
  version: number;
}

/** GroupMembers in process memory (embedded mode, tests). Passes `describeGroupMembers`. */
export class InMemoryGroupMembers implements GroupMembers {
  /** trainerId → groupId → the last change applied. */
  private readonly memberships = new Map<string, Map<string, Membership>>();
  /** groupId → its members: membersOf reads one group, not every trainer (once per move). */
  private readonly members = new Map<string, Set<string>>();

  async apply(change: {
    trainerId: string;
    groupId: string;
    action: 'join' | 'leave';
    version: number;
  }): Promise<boolean> {
    checkMembershipChange(change);
    let groups = this.memberships.get(change.trainerId);
    const stored = groups?.get(change.groupId);
    if (stored && stored.version >= change.version) return false;
    if (!groups) this.memberships.set(change.trainerId, (groups = new Map()));
    groups.set(change.groupId, { member: change.action === 'join', version: change.version });
    let members = this.members.get(change.groupId);
    if (change.action === 'join') {
      if (!members) this.members.set(change.groupId, (members = new Set()));
      members.add(change.trainerId);
    } else if (members) {
      members.delete(change.trainerId);
      if (members.size === 0) this.members.delete(change.groupId);
    }
    return true;
  }

  async membersOf(groupId: string): Promise<string[]> {
    return [...(this.members.get(groupId) ?? [])].sort();
  }

  async groupsOf(trainerId: string): Promise<string[]> {
    const groups = this.memberships.get(trainerId);
    if (!groups) return [];
    return [...groups]
      .filter(([, m]) => m.member)
      .map(([groupId]) => groupId)
      .sort();
  }
}
