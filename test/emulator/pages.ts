// The emulated Connect pages: sign in, vehicle picker, error page. Tiny, no scripts, every value
// escaped. Element ids (#email, #password, #sign-in, input[name=vehicle], #approve, #deny) are the
// contract browser tests and form-posting tests rely on.

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function layout(title: string, content: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Smartcar (emulator)</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}
label,input,button{display:block;margin:.4rem 0}input[type=email],input[type=password]{width:100%}
.error{color:#b00020}.vehicle{display:flex;gap:.5rem;align-items:center}.vehicle input{display:inline}</style>
</head><body><h1>${escapeHtml(title)}</h1>${content}</body></html>`;
}

export function signInPage(p: { sid: string; mode: string; error?: string }): string {
  const hint = p.mode === 'live' ? '' : `<p>${escapeHtml(p.mode)} mode: any email and password work.</p>`;
  return layout('Sign in to your connected car account', `${hint}
${p.error ? `<p class="error" role="alert">${escapeHtml(p.error)}</p>` : ''}
<form method="post" action="/oauth/login">
<input type="hidden" name="sid" value="${escapeHtml(p.sid)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="sign-in" type="submit">Sign in</button>
</form>`);
}

export interface PickerVehicle { id: string; make: string; model: string; year: number; vin: string; selectable: boolean; note?: string }

export function pickerPage(p: {
  sid: string; vehicles: PickerVehicle[]; permissions: string[]; single: boolean; appName: string; error?: string;
}): string {
  const type = p.single ? 'radio' : 'checkbox';
  const rows = p.vehicles.map((v) => `<div class="vehicle"><input type="${type}" name="vehicle" id="vehicle-${escapeHtml(v.id)}" value="${escapeHtml(v.id)}"${v.selectable ? '' : ' disabled'}${p.vehicles.length === 1 && v.selectable ? ' checked' : ''}>
<label for="vehicle-${escapeHtml(v.id)}">${escapeHtml(`${v.year} ${v.make} ${v.model}`)} <small>${escapeHtml(v.vin)}</small>${v.note ? ` <em>${escapeHtml(v.note)}</em>` : ''}</label></div>`).join('\n');
  const perms = p.permissions.map((x) => `<li>${escapeHtml(x)}</li>`).join('');
  return layout(`${p.appName} wants access to your vehicle`, `
${p.error ? `<p class="error" role="alert">${escapeHtml(p.error)}</p>` : ''}
<form method="post" action="/oauth/grant">
<input type="hidden" name="sid" value="${escapeHtml(p.sid)}">
<fieldset><legend>Vehicles</legend>
${rows}
</fieldset>
<p>Requested permissions:</p><ul id="permissions">${perms}</ul>
<button id="approve" type="submit" name="action" value="approve">Allow</button>
<button id="deny" type="submit" name="action" value="deny">Deny access</button>
</form>`);
}

export function errorPage(title: string, message: string): string {
  return layout(title, `<p class="error" role="alert">${escapeHtml(message)}</p>`);
}
