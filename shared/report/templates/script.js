(()=>{const d=document,t=d.getElementById("rows"),b=t.tBodies[0],q=d.getElementById("q"),v=d.getElementById("vo");
d.getElementById("ctl").hidden=false;
const f=()=>{const s=q.value.toLowerCase();for(const r of b.rows)r.hidden=v.checked&&!r.classList.contains("bad")||!r.cells[0].textContent.toLowerCase().includes(s)};
q.addEventListener("input",f);v.addEventListener("change",f);
for(const h of t.tHead.rows[0].cells){const k=h.dataset.k;if(!k)continue;h.addEventListener("click",()=>{const up=h.dataset.o!="a";h.dataset.o=up?"a":"d";
const key=r=>k=="n"?r.cells[0].textContent:parseFloat(r.dataset[k])||0;
[...b.rows].sort((x,y)=>{const a=key(x),c=key(y),o=typeof a=="string"?a.localeCompare(c):a-c;return up?o:-o}).forEach(r=>b.append(r))})}})();
