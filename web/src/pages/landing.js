// The landing page: who runs this, from the server's configuration.

import { pick, onLangChange } from "../lib/i18n.js";

export function initLanding(config) {
  const intro = document.getElementById("intro");
  const render = () => {
    const text = pick(config.intro);
    intro.textContent = text;
    intro.hidden = !text;
  };
  render();
  onLangChange(render);
}
