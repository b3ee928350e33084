// ACV: the first thing the « Valider » button does in Excel (udfs/scripts.py, `check_protection`; « Générer l'annexe »
// too, its sheet and the workbook's structure only: `stop_if_protected`), before any
// write: the sheets it writes into (Contrôles, the Accueil of the status, the hidden sheet of the validated data,
// the sheets whose cells it colours) are looked at, and the first one protected stops it with the server's French
// message for that sheet (sealed for the message box, udfs/server_alert.py); then, when the validation adds, hides
// or shows a sheet, the protection of the workbook's structure, with the server's message for it. Excel refused the
// first write into a protected sheet with its own English text (« The cell or chart you're trying to change is
// protected… »), the writes before it done.
// A sheet the workbook has not, or an Excel that cannot say (before ExcelApi 1.4, that of `getItemOrNullObject`; 1.7
// for the workbook; or its answer refused), stops nothing.
async function acvFeuillesProtegees(context, feuilles, classeur) {
  let arret = null;
  try {
    // (no `??` nor `?.`: Excel 2019's task pane, Edge Legacy, reads neither)
    arret = await acvFeuilleProtegee(context, feuilles);
    if (arret === null) arret = await acvClasseurProtege(context, classeur);
  } catch (erreur) {
    // the writes tell, as before and as on the desktop (`check_protection`): a check Excel cannot make stopped every
    // click on « n'a pas pu vérifier les feuilles », for ever, what no reopening mends
    console.warn("ACV : protection des feuilles non vérifiée", erreur);
  }
  if (arret !== null) throw new Error(arret);
}

// the message of the first sheet of `feuilles` protected, or null
async function acvFeuilleProtegee(context, feuilles) {
  if (!Office.context.requirements.isSetSupported("ExcelApi", "1.2")) return null;
  const trouvees = feuilles.map(([nom]) => context.workbook.worksheets.getItemOrNullObject(nom));
  await context.sync();
  const presentes = [];
  feuilles.forEach(([, message, cellules, couleurs], i) => {
    if (trouvees[i].isNullObject) return;
    // (cells named: the sheet stops only when one of them is locked — the Accueil protected, its status cells
    // left unlocked, takes the status; none named: Excel refuses any write there, a table resized, rows inserted;
    // colours only: it stops unless its protection allows the formatting of cells, locked or not)
    const verrous = (cellules || []).map((c) => trouvees[i].getRange(c).format.protection.load("locked"));
    presentes.push([trouvees[i].load("protection/protected"), message, verrous, couleurs === true]);
  });
  if (presentes.length === 0) return null;
  await context.sync();
  const colorees = [];
  for (const [feuille, message, verrous, couleurs] of presentes) {
    if (!feuille.protection.protected) continue;
    if (couleurs) colorees.push([feuille, message]);
    else if (verrous.length === 0 || verrous.some((v) => v.locked !== false)) return message;
  }
  if (colorees.length === 0) return null;
  // what their protection allows, read apart: an Excel that cannot say stops none of them, and takes nothing from
  // the check of the sheets above
  try {
    colorees.forEach(([feuille]) => feuille.load("protection/options"));
    await context.sync();
  } catch (erreur) {
    console.warn("ACV : protection des feuilles colorées non vérifiée", erreur);
    return null;
  }
  // (stopped on `false` only: an Excel that does not say, the option missing, stops nothing, as above — it stopped
  // every click for ever, the sheet protected again « Format de cellule » allowed as the message advises)
  for (const [feuille, message] of colorees) {
    if ((feuille.protection.options || {}).allowFormatCells === false) return message;
  }
  return null;
}

// `message` when the workbook's structure is protected (no sheet can be added, hidden or shown), else null; null
// too when the validation changes no sheet (no message)
async function acvClasseurProtege(context, message) {
  if (typeof message !== "string" || !Office.context.requirements.isSetSupported("ExcelApi", "1.7")) return null;
  const protection = context.workbook.protection.load("protected");
  await context.sync();
  return protection.protected ? message : null;
}

// (registered once xlwings' module has set up its callbacks: it replaces the object they are kept in)
document.addEventListener("DOMContentLoaded", () => {
  if (globalThis.xlwings && typeof globalThis.xlwings.registerCallback === "function") {
    globalThis.xlwings.registerCallback(acvFeuillesProtegees);
  } else {
    globalThis.callbacks = globalThis.callbacks || {};
    globalThis.callbacks.acvFeuillesProtegees = acvFeuillesProtegees;
  }
});
