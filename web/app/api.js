// The v1 API (api.md): every call is a JSON POST; replies are the envelope
// {success, code, message, result, token}. The session token lives in
// localStorage, so a reload keeps the user signed in; every reply refreshes it.

const TOKEN_KEY = 'pan.session';

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
}

let unauthorizedHandler = () => {};

/** Called when the server says the session is no longer valid (HTTP 401). */
export function onUnauthorized(handler) { unauthorizedHandler = handler; }

export function sessionToken() {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function setSessionToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode: the session lasts as long as the page */ }
}

/** POST `path` with `body`; resolves to {result, token, skipped}, or throws an ApiError. */
export async function api(path, body = {}) {
  const token = sessionToken();
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  let response;
  try {
    response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), credentials: 'omit' });
  } catch {
    throw new ApiError('NETWORK', '', 0);
  }
  let json = null;
  try { json = await response.json(); } catch { /* not JSON: a proxy's error page */ }
  if (json && typeof json.token === 'string' && json.token && token) setSessionToken(json.token);
  if (response.status === 401 && token && path !== '/v1/user/login') {
    setSessionToken(null);
    unauthorizedHandler();
  }
  if (!response.ok || !json || json.success === false) {
    throw new ApiError((json && json.code) || 'HTTP_' + response.status, json && json.message, response.status);
  }
  // `skipped`: with `conflict: "skip"`, the sources left in place (api.md §6).
  return { result: json.result, token: json.token, skipped: Array.isArray(json.skipped) ? json.skipped : [] };
}

/** `api` for the common case: just the result. */
export async function call(path, body) {
  return (await api(path, body)).result;
}

export async function login(name, password) {
  // Pan accepts the plain password as well as the MD5 hex most clients send
  // (api.md §3); the browser has no MD5, and the bytes are the same either way.
  const { result, token } = await api('/v1/user/login', { value: name, password });
  setSessionToken(token);
  return result;
}

export async function logout() {
  try { await api('/v1/user/logout', {}); } catch { /* signed out locally either way */ }
  setSessionToken(null);
}

/** Sign-up (`PAN_REGISTRATION`): `{name, password, code}` → the new user, signed in. */
export async function register(fields) {
  const { result, token } = await api('/v1/user/register', fields);
  setSessionToken(token);
  return result;
}

/** Whether this server takes sign-ups: 'closed', 'invite' or 'open' ('closed' when it cannot tell). */
export async function registrationMode() {
  try {
    const result = await call('/v1/user/registration', {});
    return (result && result.mode) || 'closed';
  } catch {
    return 'closed';
  }
}
