# placeholder, regenerated below
