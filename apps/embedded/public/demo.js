// The Causeway demo client: a dev token, an SSE stream of JSON-RPC notifications, and
// arrow keys sending trainer.move over JSON-RPC. Works against the embedded mode and against the
// distributed deployment behind the launcher's edge proxy (same origin either way).
(() => {
  'use strict';
  const SPEED = 100; // units per second, the trainer-service default (TRAINER_SPEED)
  const query = new URLSearchParams(location.search);
  const userId =
    query.get('user') ||
    sessionStorage.getItem('causeway.user') ||
    `trainer-${Math.random().toString(36).slice(2, 7)}`;
  sessionStorage.setItem('causeway.user', userId);

  const el = (id) => document.getElementById(id);
  el('me').textContent = userId;
  const trainers = new Map(); // trainerId → { x, y, isMoving, dirX, dirY, at }
  let accessToken;
  let lastEventId = '';
  let source;

  function log(text) {
    const item = document.createElement('li');
    item.textContent = text;
    el('log').prepend(item);
    while (el('log').children.length > 200) el('log').lastChild.remove();
  }

  function setStatus(state) {
    el('status').dataset.state = state;
    el('status').textContent = state;
    document.body.dataset.stream = state;
  }

  async function json(path, init = {}) {
    const response = await fetch(path, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
        ...init.headers,
      },
    });
    const body = response.status === 204 ? undefined : await response.json();
    if (!response.ok) throw new Error(body?.detail || body?.title || `HTTP ${response.status}`);
    return body;
  }

  function place(params, at = performance.now()) {
    trainers.set(params.trainerId, {
      x: params.x,
      y: params.y,
      isMoving: params.isMoving,
      dirX: params.dirX,
      dirY: params.dirY,
      at,
    });
  }

  const handlers = {
    session(params) {
      el('session').textContent =
        `${params.serverId} · ${params.resumed}${params.replayed ? ` (${params.replayed} replayed)` : ''}`;
      document.body.dataset.session = params.resumed;
      setStatus('live');
    },
    recovery(params) {
      log(`recovery: ${params.reason}`);
      for (const position of params.positions ?? []) place(position);
    },
    'position.update'(params) {
      place(params);
      log(
        `${params.trainerId} ${params.isMoving ? 'moves' : 'stops'} at ${params.x.toFixed(0)},${params.y.toFixed(0)}`,
      );
    },
    'command.result'(params) {
      el('command').textContent = `${params.status}${params.reason ? `: ${params.reason}` : ''}`;
    },
    shutdown() {
      log('gateway shutting down; reconnecting');
    },
  };

  async function connect() {
    setStatus(lastEventId ? 'reconnecting' : 'connecting');
    const { token } = await json('/api/stream-tokens', { method: 'POST', body: '{}' });
    const url = `/events?token=${encodeURIComponent(token)}${lastEventId ? `&lastEventId=${encodeURIComponent(lastEventId)}` : ''}`;
    source = new EventSource(url);
    source.onmessage = (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      const message = JSON.parse(event.data);
      handlers[message.method]?.(message.params);
    };
    source.onerror = () => {
      // The browser retries by itself with Last-Event-ID; a stream token expires, so once the
      // stream is CLOSED we fetch a fresh token and resume from the last id we saw.
      setStatus('reconnecting');
      if (source.readyState === EventSource.CLOSED) setTimeout(() => connect().catch(retry), 500);
    };
  }
  const retry = (error) => {
    log(`connect failed: ${error.message}`);
    setTimeout(() => connect().catch(retry), 2000);
  };

  async function loadPositions() {
    const { positions } = await json('/api/positions');
    for (const position of positions) if (!trainers.has(position.trainerId)) place(position);
  }

  let rpcId = 0;
  async function rpc(method, params) {
    const answer = await json('/rpc', {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
    });
    if (answer.error) throw new Error(`${answer.error.message}`);
    el('command').textContent = `accepted ${answer.result.commandId.slice(0, 8)}`;
    return answer.result;
  }

  const KEYS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const pressed = new Set();
  let heading = '0,0';
  function steer() {
    let x = 0;
    let y = 0;
    for (const key of pressed) {
      x += KEYS[key][0];
      y += KEYS[key][1];
    }
    const next = `${x},${y}`;
    if (next === heading) return;
    heading = next;
    const moving = x !== 0 || y !== 0;
    rpc('trainer.move', {
      trainerId: userId,
      directionX: x,
      directionY: y,
      action: moving ? 'start' : 'stop',
      timestamp: Date.now(),
    }).catch((error) => log(`move failed: ${error.message}`));
  }
  addEventListener('keydown', (event) => {
    if (!(event.key in KEYS) || event.target instanceof HTMLInputElement) return;
    event.preventDefault();
    pressed.add(event.key);
    steer();
  });
  addEventListener('keyup', (event) => {
    if (!(event.key in KEYS)) return;
    pressed.delete(event.key);
    steer();
  });
  addEventListener('blur', () => {
    pressed.clear();
    steer();
  });

  el('group-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const groupId = el('group').value.trim();
    const action = event.submitter?.dataset.action ?? 'join';
    if (groupId)
      rpc(`group.${action}`, { trainerId: userId, groupId }).catch((error) =>
        log(`${action} failed: ${error.message}`),
      );
  });

  function draw() {
    const canvas = el('world');
    const context = canvas.getContext('2d');
    const now = performance.now();
    context.clearRect(0, 0, canvas.width, canvas.height);
    for (const [id, t] of trainers) {
      const seconds = t.isMoving ? (now - t.at) / 1000 : 0;
      const x = canvas.width / 2 + t.x + t.dirX * SPEED * seconds;
      const y = canvas.height / 2 + t.y + t.dirY * SPEED * seconds;
      context.fillStyle = id === userId ? '#8fd18f' : '#6bb6f0';
      context.beginPath();
      context.arc(x, y, 9, 0, Math.PI * 2);
      context.fill();
      context.fillStyle = '#e6e6e6';
      context.fillText(id, x + 12, y + 4);
    }
    requestAnimationFrame(draw);
  }

  (async () => {
    ({ token: accessToken } = await json('/api/dev/tokens', {
      method: 'POST',
      body: JSON.stringify({ userId }),
    }));
    await connect();
    await loadPositions().catch((error) => log(`positions: ${error.message}`));
    requestAnimationFrame(draw);
    el('world').focus();
  })().catch(retry);

  // For tests and curious users: the page's view of the world.
  window.causewayDemo = { userId, trainers, lastEventId: () => lastEventId };
})();
