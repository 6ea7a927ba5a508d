// The headers rustyhook sent with an attempt, as the attempt API returns them (credentials
// already redacted by the server).
export function RequestHeaders({ headers }: { headers: Record<string, string> | null | undefined }) {
  if (!headers) return <p className="muted small">Request headers: not recorded for this attempt.</p>;
  const names = Object.keys(headers).sort();
  return (
    <details className="json request-headers" open>
      <summary>Request headers</summary>
      <table className="headers">
        <tbody>
          {names.map((n) => (
            <tr key={n}>
              <th scope="row">{n}</th>
              <td className="break">
                <code>{headers[n]}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
