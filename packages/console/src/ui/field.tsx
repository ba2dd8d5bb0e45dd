import { useId } from 'react';
import { ApiError } from '../api/client.js';

/** The API's words about form field `name` (its JSON pointer, or one inside it), if it refused that field. */
export function apiFieldError(error: unknown, name: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  return error.errors.find((e) => e.pointer === `/${name}` || e.pointer.startsWith(`/${name}/`))?.detail;
}

/** A labelled text input with its hint, or its error from the API (`aria-invalid`, described by either). */
export function Field({
  name,
  label,
  error,
  hint,
  ...input
}: {
  name: string;
  label: string;
  error?: string | undefined;
  hint?: string;
  required?: boolean;
  placeholder?: string;
  type?: string;
}) {
  const id = useId();
  const describedBy = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {input.required && <span aria-hidden="true"> *</span>}
      </label>
      <input
        id={id}
        name={name}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        {...input}
      />
      {hint && !error && (
        <small id={`${id}-hint`} className="muted">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} className="field-error">
          {error}
        </small>
      )}
    </div>
  );
}
