document.getElementById("app").textContent = "pamps";
