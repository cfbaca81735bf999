// The login page: POST /auth/login; the demo users of `bellhop serve --demo` are one click away.
import { h, field, select } from './dom.js';

const DEMO = [
  ['owner@demo.bellhop.dev', 'Asha Owner (owner)'],
  ['admin@demo.bellhop.dev', 'Ravi Admin (admin)'],
  ['manager@demo.bellhop.dev', 'Meera Manager (manager, properties 1 and 2)'],
  ['finance@demo.bellhop.dev', 'Farhan Finance (finance)'],
  ['frontdesk@demo.bellhop.dev', 'Priya Front Desk (front desk, property 1)'],
  ['housekeeping@demo.bellhop.dev', 'Kiran Housekeeping (housekeeping, property 1)'],
  ['staff@demo.bellhop.dev', 'Sam Staff (staff, property 2)'],
];

export function renderLogin(main, app) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, minlength: 1 });
  const error = h('p', { class: 'error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Log in');
  const demo = select([['', 'Choose a demo user…'], ...DEMO], { name: 'demo' });
  demo.addEventListener('change', () => {
    if (!demo.value) return;
    email.value = demo.value;
    password.value = 'bellhop-demo';
  });
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h2', { id: 'login-title' }, 'Log in'),
    field('Email', email),
    field('Password', password),
    h('div', { class: 'actions' }, button),
    error,
    h('details', {}, h('summary', {}, 'Demo users (make run)'),
      h('p', { class: 'hint' }, 'Password for every demo user: bellhop-demo'),
      field('Fill in a demo user', demo)));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const em = email.value.trim();
    if (!em || !password.value) { error.textContent = 'Enter an email and a password.'; return; }
    button.disabled = true;
    try {
      const res = await app.api.login(em, password.value);
      await app.login(res.token, res.user);
    } catch (err) {
      error.textContent = err.code === 'invalid_credentials' ? 'Wrong email or password.' : `Could not log in: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
  main.append(form);
  email.focus();
}
