/* pairchat chat page: the interests field, a tag input (plain JS, no build step).
 *
 * Enter or a comma turns the typed text into a tag (a comma typed on a phone keyboard, which
 * sends no usable key event, or pasted "a, b, c" too); Backspace in the empty field removes the
 * last tag. Tags are shown as the server will match them: the page normalizes like
 * docs/protocol.md (NFKC, case-folded, trimmed, inner white space collapsed; 1 to 32 letters,
 * digits, spaces, - or _), so a tag the server would refuse is never sent, and two spellings of
 * one word are one tag. JavaScript has no case-fold: upper- then lower-casing is the usual
 * stand-in (it folds "ß" to "ss" as Python's casefold does); the server's own normalized list
 * (the `queued` frame's `interests`) replaces the page's when it arrives, via set().
 */
(() => {
  "use strict";

  const MAX_TAGS = 5;
  const MAX_CHARS = 32;
  const ALLOWED = /^[\p{L}\p{M}\p{Nd} _-]+$/u;

  /** The normalized tag, or null when the server would refuse it. */
  function normalize(raw) {
    let text = String(raw).normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
    text = text.trim().split(/\s+/u).join(" ");
    const length = [...text].length; // code points, as the server counts them
    if (length < 1 || length > MAX_CHARS || !ALLOWED.test(text)) return null;
    return text;
  }

  /**
   * Wires a tag input: `input` is the text field, `list` the <ul> the tags go in, `hint` a
   * polite live region that says what happened (added, removed, refused). `onChange` gets the
   * tags after every change.
   */
  function create({ input, list, hint, onChange }) {
    let tags = [];
    const defaultHint = hint.textContent;
    const placeholder = input.placeholder;

    function say(text) { hint.textContent = text || defaultHint; }

    function render() {
      list.replaceChildren(...tags.map(chip));
      const full = tags.length >= MAX_TAGS;
      input.readOnly = full; // still focusable: Backspace removes the last tag
      input.placeholder = full ? "That's 5: remove one to add another"
        : tags.length ? "Add another…" : placeholder;
      list.hidden = tags.length === 0;
      if (onChange) onChange(tags.slice());
    }

    function chip(tag) {
      const li = document.createElement("li");
      li.className = "tag";
      const label = document.createElement("span");
      label.textContent = tag;   // never innerHTML: the text is the user's
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "tag-remove";
      remove.setAttribute("aria-label", `Remove ${tag}`);
      remove.textContent = "×";
      remove.addEventListener("click", () => { removeTag(tag); input.focus(); });
      li.append(label, remove);
      return li;
    }

    /** Adds what was typed; true when the field can be cleared (added, or already there). */
    function add(raw) {
      if (!String(raw).trim()) return true;
      const tag = normalize(raw);
      if (tag === null) {
        say(`"${String(raw).trim()}" can't be an interest: use up to ${MAX_CHARS} letters, digits, spaces, - or _.`);
        return false;
      }
      if (tags.includes(tag)) { say(`You already have ${tag}.`); return true; }
      if (tags.length >= MAX_TAGS) { say(`Up to ${MAX_TAGS} interests.`); return false; }
      tags.push(tag);
      say(`Added ${tag}.`);
      render();
      return true;
    }

    function removeTag(tag) {
      tags = tags.filter((t) => t !== tag);
      say(`Removed ${tag}.`);
      render();
    }

    /** Turns every comma-separated part of the field into a tag; keeps the last part (still
     * being typed) unless `all`. What could not be added stays in the field to be fixed. */
    function commit(all) {
      const parts = input.value.split(/[,，、]/u);
      const rest = all ? "" : parts.pop();
      const kept = parts.filter((part) => !add(part));
      if (rest) kept.push(rest);
      input.value = kept.join(", ");
    }

    input.addEventListener("keydown", (e) => {
      if (e.isComposing) return;
      if (e.key === "Enter") {
        // An empty field lets Enter submit the form (start chatting).
        if (!input.value.trim()) return;
        e.preventDefault();
        commit(true);
      } else if (e.key === "Backspace" && input.value === "" && tags.length) {
        e.preventDefault();
        removeTag(tags[tags.length - 1]);
      }
    });
    const typedComma = (e) => { if (!e.isComposing && /[,，、]/u.test(input.value)) commit(false); };
    input.addEventListener("input", typedComma);
    input.addEventListener("compositionend", typedComma); // an IME's comma, once it is final
    const box = input.parentElement;
    box.addEventListener("click", (e) => { if (e.target === box || e.target === list) input.focus(); });
    input.addEventListener("blur", () => commit(true));

    render();
    return {
      /** The tags, committing what is still typed in the field first. */
      values() { commit(true); return tags.slice(); },
      /** Shows the server's normalized list (it may fold two of ours into one). */
      set(values) {
        if (!Array.isArray(values)) return;
        tags = values.filter((v) => typeof v === "string").slice(0, MAX_TAGS);
        render();
      },
    };
  }

  window.PairchatInterests = { create, normalize, MAX_TAGS };
})();
