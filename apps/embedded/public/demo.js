// The Causeway demo client: a dev token, an SSE stream of JSON-RPC notifications, and
// arrow keys sending trainer.move over JSON-RPC. Works against the embedded mode and against the
// distributed deployment behind the launcher's edge proxy (same origin either way).
(() => {
  'use strict';
  const SPEED = 100; // units per second, the trainer-service default (TRAINER_SPEED)
  const RENEW_MARGIN_MS = 5 * 60_000; // renew the access token this long before it expires
  const query = new URLSearchParams(location.search);
  const userId =
    query.get('user') ||
    sessionStorage.getItem('causeway.user') ||
    `trainer-${Math.random().toString(36).slice(2, 7)}`;
  sessionStorage.setItem('causeway.user', userId);

  const el = (id) => document.getElementById(id);
  el('me').textContent = userId;
  // trainerId → { x, y, isMoving, dirX, dirY, speed, at, stale }: (x, y) is where the trainer was
  // at `at` (server epoch ms, see serverNow); `stale` marks a frame replayed after a reconnect,
  // whose receive time says nothing about when the movement started.
  const trainers = new Map();
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

  /**
   * A JSON request with the access token. A 401 saying the token expired (a laptop that slept
   * through the renewal) renews the token once and retries.
   */
  async function json(path, init = {}, retried = false) {
    const { auth = true, ...options } = init;
    const response = await fetch(path, {
      ...options,
      headers: {
        'content-type': 'application/json',
        ...(auth && accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
        ...options.headers,
      },
    });
    const date = Date.parse(response.headers.get('date') ?? '');
    if (date > 0) coarseMinusPerf = date + 500 - performance.now();
    const body = response.status === 204 ? undefined : await response.json().catch(() => undefined);
    // Expired, or no longer valid (the server restarted with another signing secret: the
    // embedded app makes a random one at each start unless JWT_SECRET is set): sign in again.
    if (
      response.status === 401 &&
      auth &&
      !retried &&
      (body?.reason === 'expired' || body?.reason === 'invalid')
    ) {
      if (body.reason === 'invalid') log('the server no longer takes our token: signing in again');
      await renewToken();
      return json(path, init, true);
    }
    if (!response.ok) {
      const error = new Error(body?.detail || body?.title || `HTTP ${response.status}`);
      error.status = response.status;
      error.retryAfterMs = Number(response.headers.get('retry-after')) * 1000 || undefined;
      throw error;
    }
    return body;
  }

  // --- The access token: minted by /api/dev/tokens, renewed before it expires. ---------------

  /** The `iat` and `exp` of a JWT, in ms (decoded only: the server verifies it). */
  function claimsOf(token) {
    try {
      const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const { iat, exp } = JSON.parse(atob(payload));
      return typeof exp === 'number' ? { iat: (iat ?? exp - 3600) * 1000, exp: exp * 1000 } : {};
    } catch {
      return {};
    }
  }

  let renewTimer;
  let renewDue = Infinity; // Date.now() at which the token should be renewed
  let renewing;
  async function signIn() {
    const { token } = await json('/api/dev/tokens', {
      method: 'POST',
      auth: false,
      body: JSON.stringify({ userId }),
    }).catch((error) => {
      // The route exists only with DEV_TOKENS=true (`npm start` sets it; the app alone does not).
      if (error.status === 404)
        throw new Error(
          'this server does not issue dev tokens (DEV_TOKENS=false): start it with `npm start`, or set DEV_TOKENS=true',
        );
      throw error;
    });
    accessToken = token;
    const { iat, exp } = claimsOf(token);
    clearTimeout(renewTimer);
    if (exp === undefined) return;
    // Measured from now rather than against `exp`, so a skewed clock on this machine does not
    // matter: renew RENEW_MARGIN_MS before expiry (a fifth of the lifetime for short tokens).
    const lifetime = exp - iat;
    const delay = Math.max(1000, lifetime - Math.min(RENEW_MARGIN_MS, lifetime / 5));
    renewDue = Date.now() + delay;
    renewTimer = setTimeout(() => renewToken().catch(renewFailed), delay);
  }
  function renewToken() {
    renewing ??= signIn().finally(() => (renewing = undefined));
    return renewing;
  }
  function renewFailed(error) {
    log(`token renewal failed: ${error.message}; retrying`);
    clearTimeout(renewTimer);
    renewTimer = setTimeout(() => renewToken().catch(renewFailed), 10_000);
  }

  // --- The world as this page knows it. ------------------------------------------------------

  // The server's clock as seen from this page: `serverMinusPerf` + performance.now() is the
  // server's epoch ms now. Every server time this page receives (a live frame's id and
  // startedAt, a Date header, an answer's timestamp) has passed when it arrives: each is a lower
  // bound, and the largest is within the fastest one-way latency. Never this machine's Date.now(),
  // which may be off by any amount (no NTP).
  let serverMinusPerf;
  function serverTimeSeen(epochMs) {
    if (!(epochMs > 0)) return;
    const bound = epochMs - performance.now();
    if (serverMinusPerf === undefined || bound > serverMinusPerf) serverMinusPerf = bound;
  }
  // Until a precise one arrives: a Date header's whole second, taken at its middle (±0.5 s).
  let coarseMinusPerf;
  const serverNow = () =>
    serverMinusPerf !== undefined
      ? serverMinusPerf + performance.now()
      : coarseMinusPerf !== undefined
        ? coarseMinusPerf + performance.now()
        : Date.now();
  // A trainer's `at` is a server epoch-ms time: where it is drawn is worked out at each frame
  // from serverNow(), so a better estimate of the server's clock corrects what is already placed.
  const localTime = (epochMs) => epochMs;

  /** When a frame was logged: its id is `<epoch ms>-<sequence>` (else: now). */
  const loggedAt = (id) => {
    const ms = Number(String(id ?? '').split('-')[0]);
    return Number.isFinite(ms) && ms > 0 ? localTime(ms) : serverNow();
  };

  function place(params, { at = serverNow(), stale = false } = {}) {
    trainers.set(params.trainerId, {
      x: params.x,
      y: params.y,
      isMoving: params.isMoving,
      dirX: params.dirX,
      dirY: params.dirY,
      speed: params.speed > 0 ? params.speed : SPEED,
      at,
      stale,
      version: params.version ?? 0,
      receivedAt: performance.now(),
    });
  }

  /** A read-model row (GET /api/positions, `recovery`): (x, y) is where its movement started. */
  function placeRow(row) {
    place(row, { at: row.isMoving && row.startedAt > 0 ? localTime(row.startedAt) : undefined });
  }

  /** Where `trainer` is at `now` (performance clock): what the canvas draws. */
  function positionOf(trainer, now = performance.now()) {
    const serverAt = serverNow() - (performance.now() - now);
    const seconds = trainer.isMoving ? Math.max(0, serverAt - trainer.at) / 1000 : 0;
    return {
      x: trainer.x + trainer.dirX * trainer.speed * seconds,
      y: trainer.y + trainer.dirY * trainer.speed * seconds,
    };
  }

  const close = (a, b) => Math.abs(a - b) < 0.01;
  const sameMove = (seen, row) =>
    seen.isMoving === row.isMoving &&
    close(seen.x, row.x) &&
    close(seen.y, row.y) &&
    close(seen.dirX, row.dirX) &&
    close(seen.dirY, row.dirY);

  /**
   * After frames were replayed on a resume: a replayed move says where its trainer started, not
   * when. The read model knows (startedAt). A row that disagrees with the replayed frame is
   * either newer (its frame is on the way) or not projected yet: ask again a few times, then
   * believe the read model.
   */
  async function resync(attempt = 0) {
    if (![...trainers.values()].some((t) => t.stale)) return;
    let positions;
    try {
      ({ positions } = await json('/api/positions'));
    } catch (error) {
      log(`re-sync failed: ${error.message}`);
      if (attempt < 5) setTimeout(() => resync(attempt + 1), 1000 * (attempt + 1));
      return;
    }
    let again = false;
    for (const row of positions) {
      const seen = trainers.get(row.trainerId);
      if (!seen) placeRow(row);
      else if (seen.stale) {
        if (sameMove(seen, row) || attempt >= 3) placeRow(row);
        else again = true;
      }
    }
    if (again) setTimeout(() => resync(attempt + 1), 250 * (attempt + 1));
    else for (const trainer of trainers.values()) trainer.stale = false; // not visible any more
  }

  // --- "Last command": an answer never overwrites a later state of the same command. -----------

  const finished = new Map(); // commandId → its command.result, for the latest commands
  function commandResult(params) {
    el('command').textContent = `${params.status}${params.reason ? `: ${params.reason}` : ''}`;
    if (!params.commandId) return;
    if (groupCommands.has(params.commandId)) refreshPositions();
    finished.set(params.commandId, params.status);
    if (finished.size > 100) finished.delete(finished.keys().next().value);
  }
  function commandAccepted(commandId) {
    if (finished.has(commandId)) return; // its result came first, over the stream
    el('command').textContent = `accepted ${commandId.slice(0, 8)}`;
  }

  // --- The stream. -------------------------------------------------------------------------

  let replaying = 0; // frames of the current session still to come from its replay
  const handlers = {
    session(params) {
      serverTimeSeen(params.serverTime); // ms: the precise clock from the first frame on
      el('session').textContent =
        `${params.serverId} · ${params.resumed}${params.replayed ? ` (${params.replayed} replayed)` : ''}`;
      document.body.dataset.session = params.resumed;
      replaying = params.resumed === 'replayed' ? (params.replayed ?? 0) : 0;
      setStatus('live');
      if (replaying === 0) resync(); // frames of an earlier, interrupted replay, if any
    },
    recovery(params) {
      log(`recovery: ${params.reason}`);
      trainers.clear(); // replace what is shown: a trainer not listed is gone or out of sight
      for (const position of params.positions ?? []) placeRow(position);
    },
    'position.update'(params, replayed, id) {
      // A frame says where its trainer was when the move started (`startedAt`): drawn from
      // then, live or replayed. One logged before frames carried it is anchored at its id's time
      // (when it was logged, not when it arrived: a frame that took a while under load would
      // draw the trainer behind), and a replayed one of those is re-synced after the replay.
      const started = params.isMoving && params.startedAt > 0;
      const held = trainers.get(params.trainerId);
      if (params.version > 0 && held?.version >= params.version) return; // older than shown
      if (!replayed && started) serverTimeSeen(params.startedAt);
      place(params, {
        at: started ? localTime(params.startedAt) : loggedAt(id),
        stale: replayed && params.isMoving && !started,
      });
      log(
        `${params.trainerId} ${params.isMoving ? 'moves' : 'stops'} at ${params.x.toFixed(0)},${params.y.toFixed(0)}`,
      );
    },
    'command.result'(params) {
      commandResult(params);
    },
    shutdown() {
      log('gateway shutting down; reconnecting');
    },
    expired() {
      // The session of the token the stream was opened with ended (the access token has been
      // renewed since): a new stream token, and resume from the last id, at once.
      log('session ended; resuming with a renewed token');
      clearTimeout(watchdog);
      source.close();
      connect().catch(retry);
    },
    disconnected(params) {
      // An operator ended this user's streams: stay disconnected until the page is reloaded.
      log(`disconnected by the server: ${params.reason}`);
      clearTimeout(watchdog);
      source.close();
      setStatus('disconnected');
    },
  };

  // Reconnects after a refused or failed open back off: 0.5 s, 1 s, 2 s … up to 30 s, each with
  // up to as much again of jitter, so a full or rate-limiting gateway (503 / 429, whose
  // Retry-After EventSource cannot read) is not hammered by every tab at once. A frame resets it.
  let failures = 0;
  const backoff = () => {
    const base = Math.min(30_000, 500 * 2 ** failures);
    failures += 1;
    return base + Math.random() * base;
  };

  // A stream that carries nothing for 3 heartbeat intervals is dead, however open it looks (a
  // frozen gateway, a connection a network change left half open: the browser would wait for
  // ever): give it up and resume from the last id. The stream is opened with
  // `?heartbeat=event` so that its heartbeats reach the page (comments never do).
  let watchdog;
  let heartbeatMs = 30_000; // until the session frame says
  function heard() {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      log(`nothing heard for ${Math.round((3 * heartbeatMs) / 1000)} s; reconnecting`);
      source.close();
      connect().catch(retry);
    }, 3 * heartbeatMs);
  }

  async function connect() {
    setStatus(lastEventId ? 'reconnecting' : 'connecting');
    const { token } = await json('/api/stream-tokens', { method: 'POST', body: '{}' });
    const url = `/events?heartbeat=event&token=${encodeURIComponent(token)}${lastEventId ? `&lastEventId=${encodeURIComponent(lastEventId)}` : ''}`;
    source = new EventSource(url);
    source.addEventListener('heartbeat', (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      heard();
    });
    source.onmessage = (event) => {
      failures = 0;
      lastRefusal = undefined;
      if (event.lastEventId) lastEventId = event.lastEventId;
      const message = JSON.parse(event.data);
      // The session frame says how often to expect a heartbeat: armed by it from this frame
      // on (a freeze before the first heartbeat is noticed too), before any handler runs.
      if (message.method === 'session' && message.params?.heartbeatMs > 0)
        heartbeatMs = message.params.heartbeatMs;
      heard();
      const replayed = message.method !== 'session' && replaying > 0;
      // A live frame was logged before now (its id is `<server epoch ms>-<seq>`).
      if (!replayed && message.method !== 'session')
        serverTimeSeen(Number(event.lastEventId.split('-')[0]));
      if (replayed) replaying -= 1;
      handlers[message.method]?.(message.params, replayed, event.lastEventId);
      if (replayed && replaying === 0) resync();
    };
    source.onerror = () => {
      // The browser retries by itself with Last-Event-ID; a stream token expires, so once the
      // stream is CLOSED we fetch a fresh token and resume from the last id we saw.
      setStatus('reconnecting');
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(watchdog); // the reconnect below is the only one
        const delay = backoff();
        explainRefusal(delay);
        setTimeout(() => connect().catch(retry), delay);
      }
    };
  }
  // An EventSource cannot see why its stream was refused: HEAD /events answers with the status
  // the stream got (README "Why a stream did not open"). Said once per kind of refusal in a row.
  let lastRefusal;
  async function explainRefusal(delay) {
    let status;
    try {
      const response = await fetch('/events', {
        method: 'HEAD',
        headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
      });
      status = response.status;
    } catch {
      status = 'unreachable';
    }
    if (status === 200 || status === lastRefusal) return;
    lastRefusal = status;
    const why =
      status === 429
        ? 'too many streams of yours are open (at most 10: close a tab), or too many requests'
        : status === 503
          ? 'the server is full or starting'
          : status === 401
            ? 'our token is no longer valid'
            : status === 'unreachable'
              ? 'the server is unreachable'
              : `HTTP ${status}`;
    log(`stream refused: ${why}; trying again in ${Math.round(delay / 1000)} s`);
  }
  const retry = (error) => {
    log(`connect failed: ${error.message}`);
    setTimeout(() => connect().catch(retry), backoff());
  };

  // README "Groups": no frame says a trainer went out of sight (or came into it): re-read the
  // positions after a group change of ours, and every so often for everybody else's.
  const groupCommands = new Set();
  async function refreshPositions() {
    const asked = performance.now();
    let positions;
    try {
      ({ positions } = await json('/api/positions'));
    } catch (error) {
      log(`positions: ${error.message}`);
      return;
    }
    const listed = new Set();
    for (const row of positions) {
      listed.add(row.trainerId);
      const seen = trainers.get(row.trainerId);
      if (!seen || (row.version ?? 0) > seen.version) placeRow(row);
    }
    for (const [id, trainer] of trainers)
      if (!listed.has(id) && trainer.receivedAt < asked) trainers.delete(id);
  }
  setInterval(() => accessToken && refreshPositions(), 15_000);

  async function loadPositions() {
    const { positions } = await json('/api/positions');
    for (const position of positions) if (!trainers.has(position.trainerId)) placeRow(position);
  }

  let rpcId = 0;
  async function rpc(method, params, init = {}) {
    const answer = await json('/rpc', {
      ...init,
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
    });
    if (answer.error) {
      const error = new Error(`${answer.error.message}`);
      error.code = answer.error.code;
      throw error;
    }
    serverTimeSeen(Date.parse(answer.result.timestamp));
    commandAccepted(answer.result.commandId);
    return answer.result;
  }

  // --- Arrow keys. -------------------------------------------------------------------------

  const KEYS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const pressed = new Set();
  let heading = '0,0'; // the direction of the last move this page sent
  // Moves go out one after the other, so that a quick tap's stop never overtakes its start.
  let moves = Promise.resolve();
  let generation = 0; // bumped by a page going away: moves still queued are dropped
  let unsent = 0; // moves queued, not yet on the wire
  let onTheWire = 0;
  function move(x, y, { leaving = false } = {}) {
    const send = async () => {
      onTheWire += 1;
      try {
        // keepalive: a stop sent as the page goes away still reaches the server.
        await rpc(
          'trainer.move',
          {
            trainerId: userId,
            directionX: x,
            directionY: y,
            action: x !== 0 || y !== 0 ? 'start' : 'stop',
            timestamp: Date.now(),
          },
          { keepalive: true },
        );
      } catch (error) {
        log(`move failed: ${error.message}`);
        // Not refused for what it says (400/403/422): a 429, 5xx / -32005 or a lost request.
        // Unless a later move is already queued, send what the keys say now once more.
        const transient =
          error.status === undefined
            ? error.code === undefined || error.code === -32005 || error.code === -32603
            : error.status === 429 || error.status >= 500;
        if (transient && !leaving)
          setTimeout(() => {
            if (unsent > 0) return;
            heading = undefined;
            steer();
          }, error.retryAfterMs ?? 1000);
      } finally {
        onTheWire -= 1;
      }
    };
    if (leaving) {
      // A page going away may not live to send what is queued: this move goes now, and once
      // more after the one on the wire in case the page lives on (hidden, not closed).
      generation += 1;
      unsent = 0;
      const again = onTheWire > 0;
      send();
      if (again) moves = moves.then(send);
      return;
    }
    const queuedIn = generation;
    unsent += 1;
    moves = moves.then(() => {
      if (queuedIn !== generation) return undefined;
      unsent -= 1;
      return send();
    });
  }
  /**
   * Sends the move the pressed keys mean, if it differs from the last one. `released`: a key
   * was let go; if nothing is pressed yet our own trainer moves (the key went down before a
   * reload, or in another tab), stop it.
   */
  function steer({ released = false, leaving = false } = {}) {
    let x = 0;
    let y = 0;
    for (const key of pressed) {
      x += KEYS[key][0];
      y += KEYS[key][1];
    }
    const next = `${x},${y}`;
    const stray = released && next === '0,0' && trainers.get(userId)?.isMoving === true;
    if (next === heading && !stray) return;
    heading = next;
    move(x, y, { leaving });
  }
  /** Every key counts as released: the page loses focus, is hidden, or goes away. */
  function releaseAll(leaving = false) {
    pressed.clear();
    // A stop queued on blur, say, but not sent yet: send it before the page is gone.
    if (leaving && heading === '0,0' && unsent > 0) move(0, 0, { leaving });
    else steer({ leaving });
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
    steer({ released: true });
  });
  addEventListener('blur', () => releaseAll());
  addEventListener('pagehide', () => releaseAll(true));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') releaseAll(true);
    // Timers sleep with the machine: a token due for renewal is renewed on coming back.
    else if (accessToken && Date.now() >= renewDue) renewToken().catch(renewFailed);
  });

  el('group-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const groupId = el('group').value.trim();
    const action = event.submitter?.dataset.action ?? 'join';
    if (groupId)
      rpc(`group.${action}`, { trainerId: userId, groupId })
        .then(({ commandId }) => {
          groupCommands.add(commandId);
          if (finished.has(commandId)) refreshPositions(); // its result came first
        })
        .catch((error) => log(`${action} failed: ${error.message}`));
  });

  // The view's centre in world units: it jumps to your trainer when your trainer nears its
  // edge, so you never walk out of sight (the world has no edge).
  const camera = { x: 0, y: 0 };
  function follow(canvas, mine) {
    if (!mine) return;
    if (Math.abs(mine.x - camera.x) > canvas.width / 2 - 30) camera.x = mine.x;
    if (Math.abs(mine.y - camera.y) > canvas.height / 2 - 30) camera.y = mine.y;
  }

  function draw() {
    const canvas = el('world');
    const context = canvas.getContext('2d');
    const now = performance.now();
    context.clearRect(0, 0, canvas.width, canvas.height);
    const me = trainers.get(userId);
    follow(canvas, me && positionOf(me, now));
    for (const [id, t] of trainers) {
      const position = positionOf(t, now);
      const x = canvas.width / 2 + position.x - camera.x;
      const y = canvas.height / 2 + position.y - camera.y;
      context.fillStyle = id === userId ? '#8fd18f' : '#6bb6f0';
      context.beginPath();
      context.arc(x, y, 9, 0, Math.PI * 2);
      context.fill();
      context.fillStyle = '#e6e6e6';
      context.fillText(id, x + 12, y + 4);
    }
    requestAnimationFrame(draw);
  }

  // --- Orders (SPEC S3): place one, follow its steps live, read its history. ----------------
  // Served by command-api (POST /api/v2/progress/orders), the gateways (the progress stream) and
  // order-processor (the reads): behind the distributed deployment's edge, and by the embedded
  // app itself (orders on its in-memory broker). Hidden where no order endpoint is served.

  /** taskId → its list item; tasks are shown newest first. */
  const tasks = new Map();
  let progressSource;
  // The progress stream is open only while a task shown here is unfinished: each open stream
  // holds one of the browser's 6 connections per host, and with one for /events besides, 3 tabs
  // of this page used them all and a 4th did not even load (README "Quick start").
  const FINISHED = new Set(['COMPLETED', 'FAILED']);
  let following = false; // the progress stream is wanted: open, or being (re)opened
  let progressRetry;
  // Reopening a refused or failed progress stream backs off as the trainer stream does (0.5 s,
  // 1 s, 2 s … up to 30 s, plus jitter): a full or rate-limiting gateway is not asked again
  // every 2 s by every tab. An open stream resets it.
  let progressFailures = 0;
  const progressBackoff = () => {
    const base = Math.min(30_000, 500 * 2 ** progressFailures);
    progressFailures += 1;
    return base + Math.random() * base;
  };
  let idleCheck;
  const unfinished = () => [...tasks.values()].some((item) => !FINISHED.has(item.dataset.status));
  function followTasks() {
    clearTimeout(idleCheck);
    if (following) return;
    following = true;
    followProgress().catch(progressFailed);
  }
  /** Closes the progress stream once every task shown has finished (a moment later: a reconnect's
   * `recovery` frames come one by one, and another order may follow). */
  function closeWhenIdle() {
    clearTimeout(idleCheck);
    idleCheck = setTimeout(() => {
      if (!following || unfinished()) return;
      following = false;
      clearTimeout(progressRetry);
      progressSource?.close();
      progressSource = undefined;
      el('progress-status').textContent = 'closed: no order in progress';
    }, 2_000);
  }

  function taskItem(taskId) {
    let item = tasks.get(taskId);
    if (item) return item;
    item = document.createElement('li');
    item.dataset.taskId = taskId;
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    const status = document.createElement('span');
    status.className = 'task-status';
    const step = document.createElement('span');
    step.className = 'task-step';
    const history = document.createElement('button');
    history.textContent = 'history';
    history.addEventListener('click', () =>
      showHistory(taskId).catch((error) => log(`history: ${error.message}`)),
    );
    item.append(`${taskId.slice(0, 8)} `, bar, ' ', status, ' ', step, ' ', history);
    tasks.set(taskId, item);
    el('tasks').prepend(item);
    forgetOldTasks();
    return item;
  }

  /** At most this many tasks are shown: a tab left open kept every order it ever showed. */
  const MAX_TASKS_SHOWN = 20;
  /** Drops the oldest finished tasks beyond MAX_TASKS_SHOWN (an unfinished one stays followed). */
  function forgetOldTasks() {
    for (const [taskId, item] of tasks) {
      if (tasks.size <= MAX_TASKS_SHOWN) return;
      if (!FINISHED.has(item.dataset.status)) continue;
      tasks.delete(taskId);
      item.remove();
    }
  }

  /** How far a task's state is: its phase, then its step (a finished task is as far as it gets). */
  const PHASES = { PLACED: 0, ACCEPTED: 0, STARTED: 1, PROGRESS: 2, COMPLETED: 3, FAILED: 3 };
  function reach(status, currentStep) {
    return (PHASES[status] ?? 0) * 1_000 + (PHASES[status] === 3 ? 0 : Number(currentStep ?? 0));
  }

  /** Shows a task's state: a ProgressStatus (`recovery`) or the state a ProgressEvent reports. */
  function showTask({ taskId, percentage, stepName, status, reason, eventCount, currentStep }) {
    const item = taskItem(taskId);
    // A reconnect's `recovery` holds the newest state, and the events it replays after it may be
    // older (and carry no eventCount): never step back.
    const count = Number(item.dataset.eventCount ?? 0);
    if (eventCount !== undefined && eventCount < count) return;
    const shown = Number(item.dataset.reach ?? -1);
    if (reach(status, currentStep) < shown) return;
    if (eventCount !== undefined) item.dataset.eventCount = String(eventCount);
    item.dataset.reach = String(reach(status, currentStep));
    item.dataset.status = status;
    item.querySelector('progress').value = percentage;
    item.querySelector('.task-status').textContent = `${percentage}% ${status}`;
    item.querySelector('.task-step').textContent = reason ? `${stepName}: ${reason}` : stepName;
    if (FINISHED.has(status)) closeWhenIdle();
  }

  async function placeOrder(items) {
    const accepted = await json('/api/v2/progress/orders', {
      method: 'POST',
      body: JSON.stringify({ items }),
      headers: { 'idempotency-key': crypto.randomUUID() },
    });
    log(`order placed: task ${accepted.taskId}`);
    // Its first events may have come over the stream before this answer: never show it back.
    if (!tasks.has(accepted.taskId))
      showTask({ taskId: accepted.taskId, percentage: 0, stepName: 'placed', status: 'PLACED' });
    followTasks();
  }

  async function showHistory(taskId) {
    const answer = await json(`/api/v2/progress/history/${encodeURIComponent(taskId)}`);
    const events = Array.isArray(answer) ? answer : (answer?.events ?? []);
    el('history-of').textContent = `History of ${taskId.slice(0, 8)}:`;
    el('history').replaceChildren(
      ...events.map((event) => {
        const line = document.createElement('li');
        const time = new Date(event.timestamp).toLocaleTimeString();
        line.textContent = `${time} ${event.eventType} ${event.percentage}% ${event.stepName}${event.reason ? `: ${event.reason}` : ''}`;
        return line;
      }),
    );
  }

  /** The caller's tasks, live: `recovery` (the state on connect) then `progress` (each step). */
  async function followProgress() {
    if (!following) return;
    el('progress-status').textContent = 'connecting';
    const { token } = await json('/api/stream-tokens', { method: 'POST', body: '{}' });
    if (!following) return; // every task finished meanwhile
    progressSource?.close();
    const source = new EventSource(`/api/v2/progress/subscribe?token=${encodeURIComponent(token)}`);
    progressSource = source;
    source.onopen = () => {
      progressFailures = 0;
      el('progress-status').textContent = 'live';
    };
    source.addEventListener('recovery', (event) => showTask(JSON.parse(event.data)));
    source.addEventListener('progress', (event) => {
      const progress = JSON.parse(event.data);
      showTask({ ...progress, status: progress.eventType });
    });
    source.onerror = () => {
      if (progressSource !== source) return; // closed on purpose
      el('progress-status').textContent = 'reconnecting';
      // The browser resumes by itself (Last-Event-ID); a closed stream needs a new stream token.
      if (source.readyState === EventSource.CLOSED)
        progressRetry = setTimeout(() => followProgress().catch(progressFailed), progressBackoff());
    };
  }
  function progressFailed(error) {
    if (!following) return;
    el('progress-status').textContent = `unavailable (${error.message})`;
    progressRetry = setTimeout(() => followProgress().catch(progressFailed), progressBackoff());
  }

  /** The caller's latest tasks, read once (no stream held): followed live if one is unfinished. */
  async function showRecentTasks() {
    const { tasks: recent = [] } = await json(
      `/api/v2/progress/user/${encodeURIComponent(userId)}`,
    );
    // Newest first in the answer; each shown task goes on top of the list.
    for (const status of [...recent].reverse()) showTask(status);
    if (unfinished()) followTasks();
  }

  async function startOrders() {
    // Feature detection without a refused request (a 404 in the console): command-api lists
    // the order endpoint in its OpenAPI document only where orders are taken (an order consumer
    // behind it: Kafka and order-processor, or the embedded app's own).
    const openApi = await json('/docs-json', { auth: false });
    const served = Boolean(openApi?.paths?.['/api/v2/progress/orders']);
    document.body.dataset.orders = served ? 'present' : 'absent';
    if (!served) return;
    el('orders').hidden = false;
    const order = (items) => () =>
      placeOrder(items).catch((error) => log(`order: ${error.message}`));
    el('order-ok').addEventListener('click', order([{ sku: 'sku-book', quantity: 1 }]));
    // Refused by the order's own steps (validate order: unknown sku): the task ends FAILED.
    el('order-fail').addEventListener('click', order([{ sku: 'sku-unicorn', quantity: 1 }]));
    el('progress-status').textContent = 'closed: no order in progress';
    await showRecentTasks().catch((error) => {
      log(`orders: ${error.message}`);
      followTasks(); // the recovery frames show them instead
    });
  }

  async function start() {
    await signIn();
    await connect();
    await loadPositions().catch((error) => log(`positions: ${error.message}`));
    startOrders().catch((error) => log(`orders: ${error.message}`));
    requestAnimationFrame(draw);
    el('world').focus();
  }
  let startDelay = 1000;
  const begin = () =>
    start().catch((error) => {
      log(`start failed: ${error.message}`);
      // Refused for what it asked (a user name the server does not take, dev tokens off): asking
      // again changes nothing. Else (down, overloaded, rate limited) again, backing off to 30 s.
      if (
        error.status >= 400 &&
        error.status < 500 &&
        error.status !== 401 &&
        error.status !== 429
      ) {
        setStatus('refused');
        return;
      }
      setTimeout(begin, error.retryAfterMs ?? startDelay);
      startDelay = Math.min(startDelay * 2, 30_000);
    });
  begin();

  // For tests and curious users: the page's view of the world.
  window.causewayDemo = {
    userId,
    trainers,
    /** The view's centre, in world units (it follows your trainer). */
    camera,
    lastEventId: () => lastEventId,
    /** taskId → its row in the Orders panel (`data-status`, the progress bar). */
    tasks,
    /** Where the canvas draws `trainerId` now, in world units. */
    drawnAt: (trainerId) => {
      const trainer = trainers.get(trainerId);
      return trainer && positionOf(trainer);
    },
  };
})();
