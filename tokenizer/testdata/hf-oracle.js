// reads JSON array of strings from argv[2], writes JSON array of {text,qwen3,micro,qwen3_decoded,micro_decoded}
const {Tokenizer}=require('tokenizers');const fs=require('fs');
const q=Tokenizer.fromFile('/tmp/hftok/qwen3.json');const m=Tokenizer.fromFile('/work/main/testdata/qwen3-micro/tokenizer.json');
(async()=>{const texts=JSON.parse(fs.readFileSync(process.argv[2],'utf8'));const out=[];
for(const t of texts){const e=await q.encode(t,null,{addSpecialTokens:false});const f=await m.encode(t,null,{addSpecialTokens:false});
const qi=Array.from(e.getIds()), mi=Array.from(f.getIds());
out.push({text:t,qwen3:qi,micro:mi,qwen3_decoded:await q.decode(qi,false),micro_decoded:await m.decode(mi,false)});}
fs.writeFileSync(process.argv[3],JSON.stringify(out));})();
