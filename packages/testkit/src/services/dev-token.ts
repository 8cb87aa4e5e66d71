/**
 * An access token for `userId` from an app's `POST /api/dev/tokens` (DEV_TOKENS=true: the
 * embedded mode, the distributed demo).
 * @throws Error naming the status when the app does not issue one
 */
export async function devToken(baseUrl: string, userId: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/dev/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (response.status !== 201)
    throw new Error(`POST /api/dev/tokens for ${userId} answered ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}
