// Placing an API error on a form: a 422's message on the field it names (or on the list a
// `field.0` item belongs to), and whether anything is left to say above the buttons.
import { ApiError } from "./api";

export interface FormErrors {
  /** The message for `name` (or for one of its items), if any. */
  field(name: string): string | undefined;
  /** Whether the error names none of `known`, so the form must say it elsewhere. */
  unplaced: boolean;
}

/** Where `error` goes on a form whose fields are `known`. */
export function formErrors(error: Error | null, known: string[]): FormErrors {
  const fields = error instanceof ApiError ? error.fields : {};
  return {
    field: (name) => fields[name] ?? Object.entries(fields).find(([k]) => k.startsWith(`${name}.`))?.[1],
    unplaced: !!error && !Object.keys(fields).some((k) => known.includes(k.split(".")[0] ?? "")),
  };
}
