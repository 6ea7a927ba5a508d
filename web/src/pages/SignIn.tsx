// Sign-in: a token (the admin token printed at first start, a token from `POST /api/v1/token`,
// or an app-portal token) is checked against the API and kept for this browser session.
import { useState, type FormEvent } from "react";
import { Field } from "../components/ui";

export function SignIn(props: { error: string | null; onToken(token: string): void }) {
  const [token, setToken] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) props.onToken(token.trim());
  };
  return (
    <main className="signin">
      <form onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">rustyhook</h1>
        <p className="muted">
          Sign in with an API token: the admin token printed at first start, a token made with{" "}
          <code>POST /api/v1/token</code>, or an app-portal token. It is kept in this browser tab only.
        </p>
        <Field label="Token" name="token" error={props.error ?? undefined}>
          <input
            type="password"
            name="token"
            autoComplete="off"
            autoFocus
            required
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
        </Field>
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
