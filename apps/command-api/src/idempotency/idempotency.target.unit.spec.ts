import { fingerprintTarget, routePath } from './idempotency.target';

describe('fingerprintTarget', () => {
  // A review (session 41): the fingerprint held the target as sent before this session, and a
  // key stored then must replay its retry after the upgrade. A trainer id with a character
  // outside A–Z, a–z, 0–9 and `-_.!~*'()` is sent percent-encoded (encodeURIComponent, the demo
  // page); decoding it made the same retry another target, 422 `idempotency-key-reused`.
  it('keeps a target spelled as encodeURIComponent spells it as it was sent', () => {
    for (const id of ['ash', 'José', 'ash ketchum', 'ash@pallet.example', 'a+b', "o'hara", 'a%b'])
      for (const route of ['move', 'groups/party'])
        expect(fingerprintTarget(`/api/trainers/${encodeURIComponent(id)}/${route}`)).toBe(
          `/api/trainers/${encodeURIComponent(id)}/${route}`,
        );
  });

  it('takes the other spellings of one segment as that one, and keeps segments apart', () => {
    expect(fingerprintTarget('/api/trainers/%61sh/move')).toBe('/api/trainers/ash/move');
    expect(fingerprintTarget('/api/trainers/Jos%c3%a9/move')).toBe('/api/trainers/Jos%C3%A9/move');
    expect(fingerprintTarget('/api/trainers/ash@pallet/move')).toBe(
      '/api/trainers/ash%40pallet/move',
    );
    expect(fingerprintTarget('/api/trainers/ash%2Fmove')).toBe('/api/trainers/ash%2Fmove');
    expect(fingerprintTarget('/api/trainers/ash/move/')).toBe('/api/trainers/ash/move');
    expect(fingerprintTarget('/api/trainers/%zz/move')).toBe('/api/trainers/%zz/move');
  });

  // Express routes ignore letter case: `/RPC` is the /rpc endpoint. The route as matched stands
  // for the path, and gives the target a request in the route's own spelling always had (keys
  // stored before it keep their fingerprint).
  it('takes the route as matched for the path the request spelt', () => {
    for (const id of ['ash', 'José', 'ash@pallet.example', 'a%b']) {
      const route = routePath('/api/trainers/{trainerId}/groups/{groupId}', {
        trainerId: id,
        groupId: 'party',
      });
      expect(fingerprintTarget(`/API/Trainers/${id}/Groups/party/`, route)).toBe(
        fingerprintTarget(`/api/trainers/${encodeURIComponent(id)}/groups/party`),
      );
    }
    expect(fingerprintTarget('/RPC?b=2&a=1', '/rpc')).toBe('/rpc?a=1&b=2');
    expect(() => routePath('/api/trainers/{trainerId}/move', {})).toThrow(
      'routePath: no parameter trainerId for /api/trainers/{trainerId}/move',
    );
  });
});
