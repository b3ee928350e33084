// ACV: load the add-in whenever an ACV workbook opens, since the sheet buttons (Valider,
// Générer l'annexe) only react while it runs. Set only in a workbook that has the template's
// named cell `acv_version_modele` (layout.NAMED_CELLS), so that opening the pane in another
// workbook never makes the add-in start with it. Office saves the setting in the workbook.
Office.onReady(async () => {
  try {
    if (!Office.context.requirements.isSetSupported("SharedRuntime", "1.1")) return;
    await Excel.run(async (context) => {
      const item = context.workbook.names.getItemOrNullObject("acv_version_modele");
      await context.sync();
      if (!item.isNullObject) {
        await Office.addin.setStartupBehavior(Office.StartupBehavior.load);
      }
    });
  } catch (error) {
    console.warn("ACV : chargement du complément à l'ouverture non réglé.", error);
  }
});
