// ACV: the first thing the « Valider » button does in Excel (udfs/scripts.py, `check_protection`), before any
// write: the sheets it writes into (Contrôles, the Accueil of the status, the hidden sheet of the validated data)
// are looked at, and the first one protected stops it with the server's French message for that sheet (sealed
// for the message box, udfs/server_alert.py). Excel refused the first write into a protected sheet with its own
// English text (« The cell or chart you're trying to change is protected… »), the writes before it done.
// A sheet the workbook has not, or an Excel that cannot say (ExcelApi 1.2), stops nothing.
async function acvFeuillesProtegees(context, feuilles) {
  if (!Office.context.requirements.isSetSupported("ExcelApi", "1.2")) return;
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
  if (presentes.length === 0) return;
  await context.sync();
  for (const [feuille, message, verrous] of presentes) {
    if (feuille.protection.protected && (verrous.length === 0 || verrous.some((v) => v.locked !== false))) {
      throw new Error(message);
    }
  }
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
