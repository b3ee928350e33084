// ACV: the first thing the « Valider » button does in Excel (udfs/scripts.py, `check_protection`), before any
// write: the sheets it writes into (Contrôles, the Accueil of the status, the hidden sheet of the validated data)
// are looked at, and the first one protected stops it with the server's French message for that sheet (sealed
// for the message box, udfs/server_alert.py). Excel refused the first write into a protected sheet with its own
// English text (« The cell or chart you're trying to change is protected… »), the writes before it done.
// A sheet the workbook has not, or an Excel that cannot say (ExcelApi 1.2, or its answer refused), stops nothing.
async function acvFeuillesProtegees(context, feuilles) {
  let arret = null;
  try {
    arret = await acvFeuilleProtegee(context, feuilles);
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
  feuilles.forEach(([, message, cellules], i) => {
    if (trouvees[i].isNullObject) return;
    // (cells named: the sheet stops only when one of them is locked — the Accueil protected, its status cells
    // left unlocked, takes the status; none named: Excel refuses any write there, a table resized, rows inserted)
    const verrous = (cellules || []).map((c) => trouvees[i].getRange(c).format.protection.load("locked"));
    presentes.push([trouvees[i].load("protection/protected"), message, verrous]);
  });
  if (presentes.length === 0) return null;
  await context.sync();
  for (const [feuille, message, verrous] of presentes) {
    if (feuille.protection.protected && (verrous.length === 0 || verrous.some((v) => v.locked !== false))) {
      return message;
    }
  }
  return null;
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
