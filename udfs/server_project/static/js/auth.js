// ACV: replaces xlwings Server's static/js/auth.js (a project file wins over the package's).
// xlwings calls globalThis.getAuth() before every request (custom functions, scripts, sheet
// buttons) and sends `token` as the Authorization header. `acv-xl serveur` started with an access
// token answers 401 without it (docs/serveur.md): the token given by the préfecture is typed once
// in the task pane (acv-jeton.js) and kept by Office for this add-in (OfficeRuntime.storage, shared
// by the pane and the custom functions; localStorage where it does not exist). With Entra ID
// (XLWINGS_AUTH_PROVIDERS=["entraid"]), xlwings' own single sign-on token, as in the original.
const ACV_JETON_CLE = "acv-xl-jeton";

function acvStockage() {
  if (typeof OfficeRuntime !== "undefined" && OfficeRuntime.storage) {
    return OfficeRuntime.storage;
  }
  return null;
}

globalThis.acvLireJeton = async function () {
  try {
    const stockage = acvStockage();
    if (stockage) {
      const jeton = await stockage.getItem(ACV_JETON_CLE);
      if (jeton) return jeton;
    }
  } catch (error) {
    console.warn("ACV : jeton illisible dans le stockage d'Office.", error);
  }
  try {
    return window.localStorage.getItem(ACV_JETON_CLE) || "";
  } catch (error) {
    return "";
  }
};

globalThis.acvEnregistrerJeton = async function (jeton) {
  const valeur = (jeton || "").trim();
  const stockage = acvStockage();
  if (stockage) {
    if (valeur) await stockage.setItem(ACV_JETON_CLE, valeur);
    else await stockage.removeItem(ACV_JETON_CLE);
  }
  try {
    if (valeur) window.localStorage.setItem(ACV_JETON_CLE, valeur);
    else window.localStorage.removeItem(ACV_JETON_CLE);
  } catch (error) {
    if (!stockage) throw error;
  }
};

globalThis.getAuth = async function () {
  if (config.authProviders.includes("entraid")) {
    const token = await xlwings.getAccessToken();
    return { token: token, provider: "entraid" };
  }
  const jeton = await globalThis.acvLireJeton();
  return { token: jeton ? "Bearer " + jeton : "", provider: "" };
};
